//! An event encoded once from the user's value ([`JsonEvent::encode`]) is byte for byte what the
//! tree path sends (`Payload::from_value`, `Packet::event`, then `encode_json` for the clients and
//! `to_msgpack` for Node's classic Redis adapter), on many values; and where it cannot be sure
//! of that it declines, so that the tree path decides (and returns its own errors). The same
//! for an ack answering with one value ([`sio_core::protocol::encode_json_ack`]).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde::ser::{Error as _, SerializeMap, Serializer};
use serde_json::{Value, json};
use sio_core::engine::Frame;
use sio_core::protocol::{JsonEvent, Packet, Payload, encode_json, encode_json_ack, to_msgpack};

/// What the fast path did with a value.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Encoded, and equal to the tree path's bytes.
    Same,
    /// Declined; the tree path encodes it.
    DeclinedTreeEncodes,
    /// Declined; the tree path refuses it.
    DeclinedTreeRefuses,
}

fn text(frame: &Frame) -> String {
    frame
        .as_text()
        .unwrap_or_else(|| panic!("not a text frame: {frame:?}"))
        .to_owned()
}

fn check<T: Serialize + ?Sized>(value: &T) -> Outcome {
    check_ack(value);
    let fast = JsonEvent::encode("/chat", "ev", value);
    let tree = Payload::from_value(value).map(|p| Packet::event("/chat", "ev", p));
    match (fast, tree) {
        (Some(fast), Ok(packet)) => {
            assert_eq!(
                text(&fast.frame()),
                text(&encode_json(&packet)),
                "client frame"
            );
            let data = packet.data.as_ref().unwrap();
            let mut expected = Vec::new();
            rmpv::encode::write_value(&mut expected, &to_msgpack(data, &[])).unwrap();
            assert_eq!(fast.data_msgpack().unwrap(), expected, "msgpack data");
            assert_eq!(fast.data_json(), serde_json::to_string(data).unwrap());
            Outcome::Same
        }
        (Some(fast), Err(err)) => panic!("encoded {fast:?} where the tree refuses: {err}"),
        (None, Ok(_)) => Outcome::DeclinedTreeEncodes,
        (None, Err(_)) => Outcome::DeclinedTreeRefuses,
    }
}

/// The ack frame encoded once is the tree path's, or declined exactly where the event is.
fn check_ack<T: Serialize + ?Sized>(value: &T) {
    for nsp in ["/", "/chat"] {
        let fast = encode_json_ack(nsp, 12, value);
        let event = JsonEvent::encode(nsp, "ev", value);
        assert_eq!(
            fast.is_some(),
            event.is_some(),
            "ack declined as the event is"
        );
        if let Some(fast) = fast {
            let packet = Packet::ack(nsp, 12, Payload::from_value(value).unwrap());
            assert_eq!(text(&fast), text(&encode_json(&packet)), "ack frame");
        }
    }
}

#[derive(Serialize)]
struct Unit;

#[derive(Serialize)]
struct Newtype(String);

#[derive(Serialize)]
struct Pair(i32, Option<bool>);

#[derive(Serialize, PartialEq, Eq, PartialOrd, Ord, Hash, Clone, Copy)]
enum Color {
    Red,
    #[serde(rename = "vert")]
    Green,
}

#[derive(Serialize)]
enum Shape {
    Point,
    Circle(f64),
    Line(i32, i32),
    Rect { w: u32, h: u32 },
}

#[derive(Serialize)]
struct Message {
    id: u64,
    from: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply_to: Option<u64>,
    tags: Vec<String>,
    color: Color,
    shape: Shape,
    #[serde(flatten)]
    extra: BTreeMap<String, Value>,
    nothing: (),
    unit: Unit,
    inner: Option<Box<Message>>,
}

fn message() -> Message {
    Message {
        id: 7,
        from: "Zoë \"z\" \\ <script>\u{2028}".into(),
        reply_to: None,
        tags: vec!["a".into(), String::new(), "😀".into()],
        color: Color::Green,
        shape: Shape::Rect { w: 3, h: 4 },
        extra: [("x".to_owned(), json!([1, {"y": null}]))].into(),
        nothing: (),
        unit: Unit,
        inner: Some(Box::new(Message {
            id: u64::MAX,
            from: String::new(),
            reply_to: Some(0),
            tags: Vec::new(),
            color: Color::Red,
            shape: Shape::Line(-1, i32::MIN),
            extra: BTreeMap::new(),
            nothing: (),
            unit: Unit,
            inner: None,
        })),
    }
}

#[test]
fn scalars_strings_and_floats_are_the_tree_paths() {
    assert_eq!(check(&()), Outcome::Same);
    assert_eq!(check(&Option::<u8>::None), Outcome::Same);
    assert_eq!(check(&Some(3u8)), Outcome::Same);
    assert_eq!(check(&true), Outcome::Same);
    for n in [0i64, 1, -1, -32, -33, 127, 128, -129, i64::MIN, i64::MAX] {
        assert_eq!(check(&n), Outcome::Same, "{n}");
    }
    for n in [0u64, 255, 65_536, u64::MAX] {
        assert_eq!(check(&n), Outcome::Same, "{n}");
    }
    assert_eq!(
        check(&(i8::MIN, i16::MAX, u32::MAX, -5i128, u128::from(u64::MAX))),
        Outcome::Same
    );
    for f in [
        0.0f64,
        -0.0,
        0.1,
        1.0,
        -2.5e-7,
        1e21,
        1e300,
        5e-324,
        f64::MAX,
        f64::MIN_POSITIVE,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        std::f64::consts::PI,
    ] {
        assert_eq!(check(&f), Outcome::Same, "{f}");
    }
    for f in [0.1f32, 1.5, f32::MAX, f32::NAN, f32::INFINITY, 1e-45] {
        // The tree widens an `f32` to `f64` first (0.1f32 is 0.10000000149011612).
        assert_eq!(check(&f), Outcome::Same, "{f}");
    }
    for s in [
        "",
        "plain",
        "é€😀 — 漢字",
        "\"\\/\u{8}\u{c}\n\r\t",
        "\u{0}\u{1}\u{1f}\u{7f}\u{80}\u{2028}\u{2029}\u{feff}",
        &"long ".repeat(20_000),
    ] {
        assert_eq!(check(s), Outcome::Same, "{s:?}");
    }
    assert_eq!(check(&'\u{10ffff}'), Outcome::Same);
    assert_eq!(check(&'"'), Outcome::Same);
}

#[test]
fn structures_enums_and_maps_are_the_tree_paths() {
    assert_eq!(check(&message()), Outcome::Same);
    assert_eq!(check(&Vec::<u8>::new()), Outcome::Same);
    assert_eq!(
        check(&Vec::<Vec<u8>>::from([vec![], vec![1, 2]])),
        Outcome::Same
    );
    assert_eq!(check(&BTreeMap::<String, u8>::new()), Outcome::Same);
    assert_eq!(check(&Newtype("n".into())), Outcome::Same);
    assert_eq!(check(&Pair(-3, None)), Outcome::Same);
    assert_eq!(check(&Unit), Outcome::Same);
    for shape in [
        Shape::Point,
        Shape::Circle(0.5),
        Shape::Line(1, 2),
        Shape::Rect { w: 0, h: 0 },
    ] {
        assert_eq!(check(&shape), Outcome::Same);
    }
    // Keys in their written order (the workspace's serde_json keeps it).
    let ordered: Value = serde_json::from_str(r#"{"z":1,"a":{"y":[],"b":{}},"m":null}"#).unwrap();
    assert_eq!(check(&ordered), Outcome::Same);
    let hashed: HashMap<String, Vec<f64>> = (0..100)
        .map(|i| (format!("key {i}"), vec![f64::from(i) / 3.0]))
        .collect();
    assert_eq!(check(&hashed), Outcome::Same);
    // Non-string keys the tree turns into strings.
    let ints: BTreeMap<i64, &str> = [(-1, "a"), (0, "b"), (i64::MAX, "c")].into();
    assert_eq!(check(&ints), Outcome::Same);
    let unsigned: BTreeMap<u8, u8> = [(1, 1), (255, 2)].into();
    assert_eq!(check(&unsigned), Outcome::Same);
    let bools: BTreeMap<bool, u8> = [(false, 0), (true, 1)].into();
    assert_eq!(check(&bools), Outcome::Same);
    let chars: BTreeMap<char, u8> = [('é', 0), ('"', 1)].into();
    assert_eq!(check(&chars), Outcome::Same);
    let colors: BTreeMap<Color, u8> = [(Color::Red, 0), (Color::Green, 1)].into();
    assert_eq!(check(&colors), Outcome::Same);
    let newtypes: BTreeMap<String, Newtype> = [("k".to_owned(), Newtype("v".into()))].into();
    assert_eq!(check(&newtypes), Outcome::Same);
    assert_eq!(check(&Bytes(b"\x00\x01\xff")), Outcome::Same);
    let big: Vec<Message> = (0..200).map(|_| message()).collect();
    assert_eq!(check(&big), Outcome::Same);
    let mut deep = json!(1);
    for i in 0..120 {
        deep = if i % 2 == 0 {
            json!([deep])
        } else {
            json!({ "d": deep })
        };
    }
    assert_eq!(check(&deep), Outcome::Same);
    // 16 keys are compared one by one, more through a set: both ways, no repetition.
    for n in [15, 16, 17, 40] {
        let map: BTreeMap<String, usize> = (0..n).map(|i| (format!("{i}"), i)).collect();
        assert_eq!(check(&map), Outcome::Same, "{n} keys");
    }
}

/// Serializes as bytes (`serialize_bytes`), which the tree makes an array of numbers.
struct Bytes(&'static [u8]);

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

/// A map that writes the same key twice (the tree keeps its first place and its last value).
struct Repeated(usize);

impl Serialize for Repeated {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for i in 0..self.0 {
            map.serialize_entry(&format!("k{i}"), &i)?;
        }
        map.serialize_entry("k0", "again")?;
        map.end()
    }
}

/// A value whose own `Serialize` fails.
struct Failing;

impl Serialize for Failing {
    fn serialize<S: Serializer>(&self, _s: S) -> Result<S::Ok, S::Error> {
        Err(S::Error::custom("not today"))
    }
}

/// A struct that borrows the name of serde_json's raw value.
struct LooksRaw;

impl Serialize for LooksRaw {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("$serde_json::private::RawValue", 1)?;
        st.serialize_field("$serde_json::private::RawValue", "1")?;
        st.end()
    }
}

#[test]
fn declines_where_the_tree_could_write_otherwise() {
    // A repeated key, with few keys and with many.
    assert_eq!(check(&Repeated(1)), Outcome::DeclinedTreeEncodes);
    assert_eq!(check(&Repeated(15)), Outcome::DeclinedTreeEncodes);
    assert_eq!(check(&Repeated(16)), Outcome::DeclinedTreeEncodes);
    assert_eq!(check(&Repeated(40)), Outcome::DeclinedTreeEncodes);
    // Float keys: the tree formats them its own way.
    let floats: Vec<(f64, u8)> = vec![(1.5, 1)];
    let floats = FloatKeys(floats);
    assert_eq!(check(&floats), Outcome::DeclinedTreeEncodes);
    assert_eq!(check(&LooksRaw), Outcome::DeclinedTreeEncodes);
    // What the tree refuses, the fast path does not encode: the caller gets the tree's error.
    assert_eq!(check(&Failing), Outcome::DeclinedTreeRefuses);
    assert_eq!(check(&u128::MAX), Outcome::DeclinedTreeRefuses);
    assert_eq!(check(&i128::MIN), Outcome::DeclinedTreeRefuses);
    let struct_keys: BTreeMap<(u8, u8), u8> = [((1, 2), 3)].into();
    assert_eq!(check(&struct_keys), Outcome::DeclinedTreeRefuses);
    let unit_keys: BTreeMap<(), u8> = [((), 3)].into();
    assert_eq!(check(&unit_keys), Outcome::DeclinedTreeRefuses);
    let option_keys: BTreeMap<Option<u8>, u8> = [(Some(1), 3)].into();
    assert_eq!(check(&option_keys), Outcome::DeclinedTreeRefuses);
}

/// A map with float keys.
struct FloatKeys(Vec<(f64, u8)>);

impl Serialize for FloatKeys {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

#[test]
fn the_tree_errors_are_what_the_caller_gets() {
    // The server falls back to `Payload::from_value`: same error text as before.
    let err = Payload::from_value(&Failing).unwrap_err();
    assert_eq!(err.to_string(), "not today");
    let err = Payload::from_value(&BTreeMap::from([((1u8, 2u8), 3u8)])).unwrap_err();
    assert_eq!(err.to_string(), "key must be a string");
}
