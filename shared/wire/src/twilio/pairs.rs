//! A serde data format for form pairs: a struct is a list of `(name, value)`
//! with every value a string, a `Vec` field is a repeated name, `None` is an
//! absent name and an empty value reads as `None`.
//!
//! serde_urlencoded cannot do repeated names, and it refuses `""` for an
//! `Option<u32>`; Twilio needs both.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::{self, Impossible, Serialize};

/// Error of the pair format; carried as a message into the module errors.
#[derive(Debug)]
pub(crate) struct PairError(pub(crate) String);

impl fmt::Display for PairError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PairError {}

impl de::Error for PairError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        PairError(msg.to_string())
    }
}

impl ser::Error for PairError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        PairError(msg.to_string())
    }
}

/// Deserialises a struct from pairs. Names are grouped (all values of a name
/// together, in arrival order); a scalar field takes the first value.
pub(crate) fn from_pairs<T, K, V>(pairs: &[(K, V)]) -> Result<T, PairError>
where
    T: DeserializeOwned,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut groups: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (k, v) in pairs {
        groups.entry(k.as_ref()).or_default().push(v.as_ref());
    }
    T::deserialize(PairsDe {
        groups: groups.into_iter().collect(),
    })
}

struct PairsDe<'a> {
    groups: Vec<(&'a str, Vec<&'a str>)>,
}

impl<'de> de::Deserializer<'de> for PairsDe<'de> {
    type Error = PairError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PairError> {
        visitor.visit_map(GroupsAccess {
            iter: self.groups.into_iter(),
            value: None,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

struct GroupsAccess<'a> {
    iter: std::vec::IntoIter<(&'a str, Vec<&'a str>)>,
    value: Option<Vec<&'a str>>,
}

impl<'de> MapAccess<'de> for GroupsAccess<'de> {
    type Error = PairError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, PairError> {
        match self.iter.next() {
            Some((k, vs)) => {
                self.value = Some(vs);
                seed.deserialize(de::value::BorrowedStrDeserializer::new(k))
                    .map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, PairError> {
        let values = self.value.take().unwrap_or_default();
        seed.deserialize(ValuesDe { values: &values })
    }
}

/// All values of one name.
struct ValuesDe<'v, 'de> {
    values: &'v [&'de str],
}

impl<'de> ValuesDe<'_, 'de> {
    fn first(&self) -> &'de str {
        self.values.first().copied().unwrap_or("")
    }

    fn parse<T: std::str::FromStr>(&self, what: &str) -> Result<T, PairError> {
        let v = self.first();
        v.trim()
            .parse()
            .map_err(|_| PairError(format!("{v:?} is not {what}")))
    }
}

macro_rules! parse_num {
    ($($method:ident => $visit:ident: $ty:ty),+ $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PairError> {
                visitor.$visit(self.parse::<$ty>(concat!("a valid ", stringify!($ty)))?)
            }
        )+
    };
}

impl<'de> de::Deserializer<'de> for ValuesDe<'_, 'de> {
    type Error = PairError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PairError> {
        if self.values.len() > 1 {
            self.deserialize_seq(visitor)
        } else {
            visitor.visit_borrowed_str(self.first())
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PairError> {
        visitor.visit_borrowed_str(self.first())
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PairError> {
        visitor.visit_borrowed_str(self.first())
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PairError> {
        visitor.visit_borrowed_str(self.first())
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PairError> {
        visitor.visit_char(self.parse::<char>("a single character")?)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PairError> {
        let v = self.first().trim();
        if v.eq_ignore_ascii_case("true") {
            visitor.visit_bool(true)
        } else if v.eq_ignore_ascii_case("false") {
            visitor.visit_bool(false)
        } else {
            Err(PairError(format!("{v:?} is not true or false")))
        }
    }

    parse_num! {
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
        deserialize_f32 => visit_f32: f32,
        deserialize_f64 => visit_f64: f64,
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PairError> {
        // The value read is the first one, so its emptiness decides: with
        // `N=&N=3`, `Some` would read `""` (a bad number, or `Some("")`).
        if self.first().is_empty() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PairError> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, PairError> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, PairError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PairError> {
        visitor.visit_seq(ValuesSeq {
            iter: self.values.iter(),
        })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, PairError> {
        let de: de::value::BorrowedStrDeserializer<'de, PairError> =
            de::value::BorrowedStrDeserializer::new(self.first());
        visitor.visit_enum(de)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PairError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        i128 u128 bytes byte_buf tuple tuple_struct map struct
    }
}

struct ValuesSeq<'v, 'de> {
    iter: std::slice::Iter<'v, &'de str>,
}

impl<'de> SeqAccess<'de> for ValuesSeq<'_, 'de> {
    type Error = PairError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, PairError> {
        match self.iter.next() {
            Some(v) => seed
                .deserialize(ValuesDe {
                    values: std::slice::from_ref(v),
                })
                .map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// Serialises a struct (or map) into pairs in field order; `None` fields are
/// left out and a sequence repeats its name.
pub(crate) fn to_pairs<T: Serialize + ?Sized>(
    value: &T,
) -> Result<Vec<(String, String)>, PairError> {
    let mut out = Vec::new();
    value.serialize(TopSer { out: &mut out })?;
    Ok(out)
}

struct TopSer<'o> {
    out: &'o mut Vec<(String, String)>,
}

fn top_only<T>() -> Result<T, PairError> {
    Err(PairError(
        "only a struct or a map can become form pairs".into(),
    ))
}

impl<'o> ser::Serializer for TopSer<'o> {
    type Ok = ();
    type Error = PairError;
    type SerializeSeq = Impossible<(), PairError>;
    type SerializeTuple = Impossible<(), PairError>;
    type SerializeTupleStruct = Impossible<(), PairError>;
    type SerializeTupleVariant = Impossible<(), PairError>;
    type SerializeMap = MapSer<'o>;
    type SerializeStruct = StructSer<'o>;
    type SerializeStructVariant = Impossible<(), PairError>;

    fn serialize_bool(self, _: bool) -> Result<(), PairError> {
        top_only()
    }
    fn serialize_i8(self, _: i8) -> Result<(), PairError> {
        top_only()
    }
    fn serialize_i16(self, _: i16) -> Result<(), PairError> {
        top_only()
    }
    fn serialize_i32(self, _: i32) -> Result<(), PairError> {
        top_only()
    }
    fn serialize_i64(self, _: i64) -> Result<(), PairError> {
        top_only()
    }
    fn serialize_u8(self, _: u8) -> Result<(), PairError> {
        top_only()
    }
    fn serialize_u16(self, _: u16) -> Result<(), PairError> {
        top_only()
    }
    fn serialize_u32(self, _: u32) -> Result<(), PairError> {
        top_only()
    }
    fn serialize_u64(self, _: u64) -> Result<(), PairError> {
        top_only()
    }
    fn serialize_f32(self, _: f32) -> Result<(), PairError> {
        top_only()
    }
    fn serialize_f64(self, _: f64) -> Result<(), PairError> {
        top_only()
    }
    fn serialize_char(self, _: char) -> Result<(), PairError> {
        top_only()
    }
    fn serialize_str(self, _: &str) -> Result<(), PairError> {
        top_only()
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), PairError> {
        top_only()
    }
    fn serialize_none(self) -> Result<(), PairError> {
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), PairError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), PairError> {
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), PairError> {
        Ok(())
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
    ) -> Result<(), PairError> {
        top_only()
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), PairError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), PairError> {
        top_only()
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, PairError> {
        top_only()
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, PairError> {
        top_only()
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, PairError> {
        top_only()
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, PairError> {
        top_only()
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, PairError> {
        Ok(MapSer {
            out: self.out,
            key: None,
        })
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, PairError> {
        Ok(StructSer { out: self.out })
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, PairError> {
        top_only()
    }
}

struct StructSer<'o> {
    out: &'o mut Vec<(String, String)>,
}

impl ser::SerializeStruct for StructSer<'_> {
    type Ok = ();
    type Error = PairError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), PairError> {
        value.serialize(ValueSer {
            key,
            out: self.out,
            nested: false,
        })
    }

    fn end(self) -> Result<(), PairError> {
        Ok(())
    }
}

struct MapSer<'o> {
    out: &'o mut Vec<(String, String)>,
    key: Option<String>,
}

impl ser::SerializeMap for MapSer<'_> {
    type Ok = ();
    type Error = PairError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), PairError> {
        let mut tmp = Vec::new();
        key.serialize(ValueSer {
            key: "",
            out: &mut tmp,
            nested: true,
        })?;
        self.key = Some(tmp.pop().map(|(_, v)| v).unwrap_or_default());
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), PairError> {
        let key = self.key.take().unwrap_or_default();
        let mut tmp = Vec::new();
        value.serialize(ValueSer {
            key: "",
            out: &mut tmp,
            nested: false,
        })?;
        self.out
            .extend(tmp.into_iter().map(|(_, v)| (key.clone(), v)));
        Ok(())
    }

    fn end(self) -> Result<(), PairError> {
        Ok(())
    }
}

/// Serialises one field's value under `key`.
struct ValueSer<'k, 'o> {
    key: &'k str,
    out: &'o mut Vec<(String, String)>,
    /// Inside a sequence already: a nested sequence is refused.
    nested: bool,
}

impl ValueSer<'_, '_> {
    fn push(self, v: String) -> Result<(), PairError> {
        self.out.push((self.key.to_owned(), v));
        Ok(())
    }

    fn unsupported<T>(&self, what: &str) -> Result<T, PairError> {
        Err(PairError(format!(
            "field {} is {what}, which has no form encoding",
            self.key
        )))
    }
}

impl<'k, 'o> ser::Serializer for ValueSer<'k, 'o> {
    type Ok = ();
    type Error = PairError;
    type SerializeSeq = SeqSer<'k, 'o>;
    type SerializeTuple = SeqSer<'k, 'o>;
    type SerializeTupleStruct = Impossible<(), PairError>;
    type SerializeTupleVariant = Impossible<(), PairError>;
    type SerializeMap = Impossible<(), PairError>;
    type SerializeStruct = Impossible<(), PairError>;
    type SerializeStructVariant = Impossible<(), PairError>;

    fn serialize_bool(self, v: bool) -> Result<(), PairError> {
        self.push(if v { "true" } else { "false" }.to_owned())
    }
    fn serialize_i8(self, v: i8) -> Result<(), PairError> {
        self.push(v.to_string())
    }
    fn serialize_i16(self, v: i16) -> Result<(), PairError> {
        self.push(v.to_string())
    }
    fn serialize_i32(self, v: i32) -> Result<(), PairError> {
        self.push(v.to_string())
    }
    fn serialize_i64(self, v: i64) -> Result<(), PairError> {
        self.push(v.to_string())
    }
    fn serialize_u8(self, v: u8) -> Result<(), PairError> {
        self.push(v.to_string())
    }
    fn serialize_u16(self, v: u16) -> Result<(), PairError> {
        self.push(v.to_string())
    }
    fn serialize_u32(self, v: u32) -> Result<(), PairError> {
        self.push(v.to_string())
    }
    fn serialize_u64(self, v: u64) -> Result<(), PairError> {
        self.push(v.to_string())
    }
    fn serialize_f32(self, v: f32) -> Result<(), PairError> {
        self.push(v.to_string())
    }
    fn serialize_f64(self, v: f64) -> Result<(), PairError> {
        self.push(v.to_string())
    }
    fn serialize_char(self, v: char) -> Result<(), PairError> {
        self.push(v.to_string())
    }
    fn serialize_str(self, v: &str) -> Result<(), PairError> {
        self.push(v.to_owned())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), PairError> {
        self.unsupported("bytes")
    }
    fn serialize_none(self) -> Result<(), PairError> {
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), PairError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), PairError> {
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), PairError> {
        Ok(())
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), PairError> {
        self.push(variant.to_owned())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), PairError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), PairError> {
        self.unsupported("an enum with data")
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, PairError> {
        if self.nested {
            return self.unsupported("a nested sequence");
        }
        Ok(SeqSer {
            key: self.key,
            out: self.out,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, PairError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, PairError> {
        self.unsupported("a tuple struct")
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, PairError> {
        self.unsupported("an enum with data")
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, PairError> {
        self.unsupported("a map")
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, PairError> {
        self.unsupported("a struct")
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, PairError> {
        self.unsupported("an enum with data")
    }
}

struct SeqSer<'k, 'o> {
    key: &'k str,
    out: &'o mut Vec<(String, String)>,
}

impl ser::SerializeSeq for SeqSer<'_, '_> {
    type Ok = ();
    type Error = PairError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), PairError> {
        value.serialize(ValueSer {
            key: self.key,
            out: self.out,
            nested: true,
        })
    }

    fn end(self) -> Result<(), PairError> {
        Ok(())
    }
}

impl ser::SerializeTuple for SeqSer<'_, '_> {
    type Ok = ();
    type Error = PairError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), PairError> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<(), PairError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct T {
        #[serde(rename = "Name")]
        name: String,
        #[serde(rename = "N", default)]
        n: Option<u32>,
        #[serde(rename = "Flag", default)]
        flag: Option<bool>,
        #[serde(rename = "Ev", default)]
        ev: Vec<String>,
    }

    #[test]
    fn repeated_names_and_empty_values() {
        let pairs = vec![
            ("Ev".to_owned(), "a".to_owned()),
            ("Name".to_owned(), "x".to_owned()),
            ("N".to_owned(), String::new()),
            ("Ev".to_owned(), "b".to_owned()),
            ("Unknown".to_owned(), "z".to_owned()),
        ];
        let t: T = from_pairs(&pairs).unwrap();
        assert_eq!(
            t,
            T {
                name: "x".into(),
                n: None,
                flag: None,
                ev: vec!["a".into(), "b".into()],
            }
        );
        let back = to_pairs(&t).unwrap();
        assert_eq!(
            back,
            vec![
                ("Name".to_owned(), "x".to_owned()),
                ("Ev".to_owned(), "a".to_owned()),
                ("Ev".to_owned(), "b".to_owned()),
            ]
        );
    }

    #[test]
    fn a_repeated_name_whose_first_value_is_empty_reads_as_none() {
        // Found by the twilio_forms fuzz target: `N=&N=3` was a parse error
        // ("" is not a u32) and `Name=x&Ev=&Flag=&Flag=true` kept Some("").
        let pairs = [
            ("Name", "x"),
            ("N", ""),
            ("N", "3"),
            ("Flag", ""),
            ("Flag", "true"),
        ];
        let t: T = from_pairs(&pairs).unwrap();
        assert_eq!((t.n, t.flag), (None, None));
        // What is written back reads the same.
        assert_eq!(from_pairs::<T, _, _>(&to_pairs(&t).unwrap()).unwrap(), t);
    }

    #[test]
    fn bad_number_is_an_error() {
        let pairs = [("Name", "x"), ("N", "abc")];
        assert!(from_pairs::<T, _, _>(&pairs).is_err());
        let pairs = [("N", "1")];
        assert!(from_pairs::<T, _, _>(&pairs).is_err(), "Name is required");
    }
}
