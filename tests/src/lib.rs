//! End-to-end tests of voxdial live in `tests/`; this library only hosts shared helpers.
