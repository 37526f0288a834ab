//! Cutting a stream into fixed frames with a carry buffer.
//!
//! Outbound audio arrives in chunks of any size (model audio after
//! resampling and μ-law encoding); the phone wants 20 ms frames: 160 μ-law
//! bytes at 8 kHz. A [`Framer`] emits every complete frame at once and keeps
//! the partial rest for the next chunk. At the end of a turn
//! [`Framer::flush`] pads the rest with silence; on a barge-in `clear`
//! [`Framer::clear`] drops it.
//!
//! ```
//! use voxdial_media::frame::Framer;
//! let mut framer = Framer::ulaw_20ms();
//! let mut frames = 0;
//! framer.push(&[0x7Fu8; 400], |frame| {
//!     assert_eq!(frame.len(), 160);
//!     frames += 1;
//! });
//! assert_eq!((frames, framer.pending()), (2, 80));
//! let last = framer.flush().unwrap();
//! assert_eq!(&last[80..], &[0xFF; 80][..]);
//! ```

use crate::ulaw;

/// Samples (μ-law bytes) in one 20 ms frame at 8 kHz.
pub const ULAW_FRAME_BYTES: usize = 160;

/// Splits a stream of `T` into frames of a fixed length.
#[derive(Debug, Clone)]
pub struct Framer<T> {
    frame_len: usize,
    pad: T,
    /// The partial frame; invariant: `carry.len() < frame_len`.
    carry: Vec<T>,
    frames_emitted: u64,
}

impl Framer<u8> {
    /// 20 ms μ-law frames at 8 kHz (160 bytes), padded with μ-law silence
    /// (`0xFF`).
    pub fn ulaw_20ms() -> Self {
        Self::new(ULAW_FRAME_BYTES, ulaw::SILENCE)
    }
}

impl Framer<i16> {
    /// 20 ms PCM frames at `sample_rate` Hz, padded with zeros.
    pub fn pcm_20ms(sample_rate: u32) -> Self {
        Self::new((sample_rate / 50) as usize, 0)
    }
}

impl<T: Copy> Framer<T> {
    /// Frames of `frame_len` items (at least 1), padded with `pad`.
    pub fn new(frame_len: usize, pad: T) -> Self {
        let frame_len = frame_len.max(1);
        Self {
            frame_len,
            pad,
            carry: Vec::with_capacity(frame_len),
            frames_emitted: 0,
        }
    }

    /// Length of every frame this framer emits.
    pub fn frame_len(&self) -> usize {
        self.frame_len
    }

    /// Appends `data` and calls `on_frame` with each frame it completes, in
    /// order. Whole frames inside `data` are passed without copying.
    pub fn push(&mut self, mut data: &[T], mut on_frame: impl FnMut(&[T])) {
        if !self.carry.is_empty() {
            let take = (self.frame_len - self.carry.len()).min(data.len());
            self.carry.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.carry.len() < self.frame_len {
                return;
            }
            on_frame(&self.carry);
            self.carry.clear();
            self.frames_emitted += 1;
        }
        let mut chunks = data.chunks_exact(self.frame_len);
        for frame in &mut chunks {
            on_frame(frame);
            self.frames_emitted += 1;
        }
        self.carry.extend_from_slice(chunks.remainder());
    }

    /// Like [`Framer::push`], collecting the frames into `out` as owned
    /// vectors (convenient in tests and simulators).
    pub fn push_collect(&mut self, data: &[T], out: &mut Vec<Vec<T>>) {
        self.push(data, |f| out.push(f.to_vec()));
    }

    /// The partial frame padded to full length, or `None` when nothing is
    /// pending (end of a turn).
    pub fn flush(&mut self) -> Option<Vec<T>> {
        if self.carry.is_empty() {
            return None;
        }
        let mut frame = std::mem::take(&mut self.carry);
        frame.resize(self.frame_len, self.pad);
        self.carry = Vec::with_capacity(self.frame_len);
        self.frames_emitted += 1;
        Some(frame)
    }

    /// Drops the partial frame (barge-in `clear`); returns how many items
    /// were dropped.
    pub fn clear(&mut self) -> usize {
        let n = self.carry.len();
        self.carry.clear();
        n
    }

    /// Items waiting for the rest of their frame.
    pub fn pending(&self) -> usize {
        self.carry.len()
    }

    /// Frames emitted so far, flushed ones included.
    pub fn frames_emitted(&self) -> u64 {
        self.frames_emitted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn partial_chunks_are_carried() {
        let mut f = Framer::ulaw_20ms();
        let mut out = Vec::new();
        f.push_collect(&[1; 100], &mut out);
        assert!(out.is_empty());
        assert_eq!(f.pending(), 100);
        f.push_collect(&[2; 100], &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(&out[0][..100], &[1; 100][..]);
        assert_eq!(&out[0][100..], &[2; 60][..]);
        assert_eq!(f.pending(), 40);
        assert_eq!(f.frames_emitted(), 1);
    }

    #[test]
    fn flush_pads_with_ulaw_silence_and_empties() {
        let mut f = Framer::ulaw_20ms();
        f.push(&[9; 10], |_| panic!("no full frame yet"));
        let frame = f.flush().unwrap();
        assert_eq!(frame.len(), 160);
        assert_eq!(&frame[..10], &[9; 10][..]);
        assert!(frame[10..].iter().all(|&b| b == 0xFF));
        assert_eq!(f.flush(), None);
        assert_eq!(f.frames_emitted(), 1);
    }

    #[test]
    fn clear_drops_pending() {
        let mut f = Framer::pcm_20ms(16000);
        assert_eq!(f.frame_len(), 320);
        f.push(&[5i16; 330], |_| {});
        assert_eq!(f.clear(), 10);
        assert_eq!(f.pending(), 0);
        assert_eq!(f.flush(), None);
        let mut out = Vec::new();
        f.push_collect(&[7i16; 320], &mut out);
        assert_eq!(out, vec![vec![7i16; 320]]);
    }

    #[test]
    fn zero_frame_len_is_clamped_and_empty_push_is_harmless() {
        let mut f = Framer::new(0, 0u8);
        assert_eq!(f.frame_len(), 1);
        let mut n = 0;
        f.push(&[], |_| n += 1);
        f.push(&[1, 2], |_| n += 1);
        assert_eq!(n, 2);
    }

    proptest! {
        #[test]
        fn frames_concatenate_to_the_input(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..500), 0..10),
        ) {
            let mut f = Framer::ulaw_20ms();
            let mut out = Vec::new();
            for c in &chunks {
                f.push_collect(c, &mut out);
            }
            let total: Vec<u8> = chunks.concat();
            prop_assert_eq!(out.len(), total.len() / 160);
            prop_assert!(out.iter().all(|fr| fr.len() == 160));
            let flat: Vec<u8> = out.concat();
            prop_assert_eq!(&flat[..], &total[..flat.len()]);
            prop_assert_eq!(f.pending(), total.len() % 160);
        }
    }
}
