//! Serde helpers shared by the wire modules: string-valued enums with an
//! `Other` fallback, numbers sent as strings, RFC 2822 dates, borrowed strings.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Utc};
use serde::de::{self, Deserializer, Visitor};
use serde::ser::Serializer;

/// Defines a string-valued wire enum with an `Other(String)` fallback, plus
/// `as_str`, `from_wire`, `Display`, `FromStr` and string (de)serialisation.
///
/// `Variant => "wire" | "alias"`: the first literal is the spelling written,
/// the others are also accepted when parsing.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $wire:literal $(| $alias:literal)* ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this crate does not know, kept verbatim. Build values
            /// with `from_wire` so a known value never lands here.
            Other(String),
        }

        impl $name {
            /// The spelling on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $wire, )+
                    Self::Other(s) => s.as_str(),
                }
            }

            /// Parses a wire value; an unknown value becomes `Other`.
            pub fn from_wire(s: &str) -> Self {
                match s {
                    $( $wire $(| $alias)* => Self::$variant, )+
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ::std::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(Self::from_wire(s))
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> ::serde::de::Visitor<'de> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str(concat!("a string (", stringify!($name), ")"))
                    }
                    fn visit_str<E: ::serde::de::Error>(self, v: &str) -> Result<$name, E> {
                        Ok($name::from_wire(v))
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}
pub(crate) use wire_enum;

/// Visitor for an optional integer that may arrive as a JSON number, a
/// numeric string, or an empty string (= absent).
struct OptNumVisitor<T>(PhantomData<T>);

impl<'de, T> Visitor<'de> for OptNumVisitor<T>
where
    T: FromStr + TryFrom<u64> + TryFrom<i64>,
{
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer or a string holding one")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        T::try_from(v)
            .map(Some)
            .map_err(|_| E::custom(format_args!("integer {v} out of range")))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        T::try_from(v)
            .map(Some)
            .map_err(|_| E::custom(format_args!("integer {v} out of range")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // JSON numbers like `5.0` are integers in disguise; anything else is not.
        if v.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&v) {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            return self.visit_u64(v as u64);
        }
        if v.fract() == 0.0 && (-9_223_372_036_854_775_808.0..0.0).contains(&v) {
            #[allow(clippy::cast_possible_truncation)]
            return self.visit_i64(v as i64);
        }
        Err(E::custom(format_args!("{v} is not an integer")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let t = v.trim();
        if t.is_empty() {
            return Ok(None);
        }
        t.parse::<T>()
            .map(Some)
            .map_err(|_| E::custom(format_args!("{v:?} is not an integer")))
    }
}

/// `Option<integer>` written as a JSON string and read from a string or a
/// number (Twilio Media Streams counters, proto3 JSON `int64`).
pub(crate) mod opt_num_str {
    use super::*;

    pub(crate) fn serialize<S, T>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error>
    where
        S: Serializer,
        T: fmt::Display,
    {
        match v {
            Some(n) => s.collect_str(n),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: FromStr + TryFrom<u64> + TryFrom<i64>,
    {
        d.deserialize_option(OptNumVisitor(PhantomData))
    }
}

/// `Option<integer>` written as a JSON number and read from a number or a
/// numeric string (SansPBX, whose types are not documented).
pub(crate) mod opt_num_lenient {
    use super::*;

    pub(crate) fn serialize<S, T>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error>
    where
        S: Serializer,
        T: serde::Serialize,
    {
        match v {
            Some(n) => n.serialize(s),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: FromStr + TryFrom<u64> + TryFrom<i64>,
    {
        d.deserialize_option(OptNumVisitor(PhantomData))
    }
}

/// Parses an RFC 2822 date as Twilio writes it (`Tue, 31 Aug 2010 20:36:28
/// +0000`), tolerating RFC 3339 too. The result is in UTC.
pub(crate) fn parse_rfc2822(s: &str) -> Option<DateTime<Utc>> {
    let t = s.trim();
    DateTime::parse_from_rfc2822(t)
        .or_else(|_| DateTime::parse_from_rfc3339(t))
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// Formats a date the way Twilio does: RFC 2822 with a `+0000` offset.
///
/// The year is written as plain digits: chrono's `%Y` writes a year past 9999
/// as `+20426`, which no RFC 2822 parser reads back.
pub(crate) fn format_rfc2822(d: &DateTime<Utc>) -> String {
    format!(
        "{}{:04}{}",
        d.format("%a, %d %b "),
        d.year(),
        d.format(" %H:%M:%S %z")
    )
}

/// `Option<DateTime<Utc>>` as an RFC 2822 string; `null` and `""` are `None`.
pub(crate) mod opt_rfc2822 {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        v: &Option<DateTime<Utc>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(d) => s.serialize_str(&format_rfc2822(d)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Option<DateTime<Utc>>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 2822 date")
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_str(self)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                if v.trim().is_empty() {
                    return Ok(None);
                }
                parse_rfc2822(v)
                    .map(Some)
                    .ok_or_else(|| E::custom(format_args!("{v:?} is not an RFC 2822 date")))
            }
        }
        d.deserialize_option(V)
    }
}

/// Visitor producing a `Cow<str>` that borrows from the input when it can.
struct CowStrVisitor;

impl<'de> Visitor<'de> for CowStrVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// `Option<Cow<str>>` that borrows (serde's `#[serde(borrow)]` only borrows a
/// bare `Cow`, not one inside an `Option`).
pub(crate) fn borrow_opt_cow<'de: 'a, 'a, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Cow<'a, str>>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<Cow<'de, str>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or null")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_str(CowStrVisitor).map(Some)
        }
    }
    d.deserialize_option(V)
}

/// A string or a number, as a string: ids such as SansPBX `callid` arrive as
/// either.
pub(crate) fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    opt_string_or_number(d)?.ok_or_else(|| de::Error::custom("expected a string or a number"))
}

/// Optional form of [`string_or_number`]; `null` is `None`.
pub(crate) fn opt_string_or_number<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or a number")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_owned()))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
    }
    d.deserialize_option(V)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2822_dates_past_9999_read_back() {
        // Found by the twilio_forms fuzz target: a 5-digit year parsed, and
        // was written back as "+20426", which does not parse.
        for text in [
            "Tue, 24 Nov 20426 19:24:00 +0000",
            "Tue, 24 Nov 2026 19:24:00 +0000",
        ] {
            let d = parse_rfc2822(text).unwrap();
            assert_eq!(format_rfc2822(&d), text);
            assert_eq!(parse_rfc2822(&format_rfc2822(&d)), Some(d));
        }
    }
    use chrono::TimeZone;

    #[test]
    fn rfc2822_round_trip() {
        let d = Utc
            .with_ymd_and_hms(2010, 8, 1, 20, 36, 28)
            .single()
            .unwrap();
        let s = format_rfc2822(&d);
        assert_eq!(s, "Sun, 01 Aug 2010 20:36:28 +0000");
        assert_eq!(parse_rfc2822(&s), Some(d));
        assert_eq!(parse_rfc2822("Sun, 1 Aug 2010 20:36:28 +0000"), Some(d));
        assert_eq!(parse_rfc2822("nonsense"), None);
    }
}
