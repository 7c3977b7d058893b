//! Decoding an interval's V2 histogram straight into its non-zero buckets.
//!
//! The `hdrhistogram` crate's `Deserializer` builds a dense histogram for
//! every line: ~190 KB allocated and zeroed, then scanned again to find the
//! few hundred buckets that were hit. `stampede merge` of 16 shards of a
//! 10-minute run decodes ~150,000 lines, so that was most of its time. This
//! reads the same bytes (V2, deflated or plain, as HdrHistogram documents
//! it: cookie, payload length, normalizing offset, significant digits,
//! lowest and highest trackable value, integer-to-double ratio, then the
//! counts array as zig-zag LEB128 varints, a negative one a run of zeros)
//! and yields `(bucket lowest equivalent value, count)` in value order.
//! A test checks it against the crate's own decoder on random histograms.

use flate2::{Decompress, FlushDecompress, Status};
use hdrhistogram::Histogram;
use std::sync::OnceLock;

/// A zlib inflater and its output, kept between lines (a fresh inflater's
/// state is ~40 KB to allocate and clear for a line of a few hundred bytes).
pub struct Inflater {
    out: Vec<u8>,
    z: Decompress,
}

impl Default for Inflater {
    fn default() -> Self {
        Inflater {
            out: Vec::new(),
            z: Decompress::new(true),
        }
    }
}

impl Inflater {
    fn inflate(&mut self, input: &[u8]) -> Result<&[u8], String> {
        self.z.reset(true);
        self.out.clear();
        loop {
            self.out.reserve(4096.max(input.len() * 4));
            let read = self.z.total_in() as usize;
            let status = self
                .z
                .decompress_vec(&input[read..], &mut self.out, FlushDecompress::Finish)
                .map_err(|e| format!("histogram cannot be inflated: {e}"))?;
            match status {
                Status::StreamEnd => return Ok(&self.out),
                // Room ran out: grow and go on, unless the input is used up.
                _ if (self.z.total_in() as usize) < input.len()
                    || self.out.len() == self.out.capacity() =>
                {
                    if self.out.len() > 64 << 20 {
                        return Err("histogram inflates past 64 MB".into());
                    }
                }
                _ => return Err("compressed histogram is cut short".into()),
            }
        }
    }
}

const V2_COOKIE: u32 = 0x1c84_9303 | 0x10;
use super::V2_COMPRESSED_COOKIE;
/// The V2 header after the cookie: payload length, normalizing offset,
/// digits (u32 each), lowest, highest (u64 each), ratio (f64).
const HEADER_LEN: usize = 4 + 4 + 4 + 8 + 8 + 8;

/// The recorder's settings and every bucket's lowest equivalent value, by
/// counts-array index (built once).
struct Table {
    settings: (u64, u64, u8),
    values: Vec<u64>,
}

fn table() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| {
        let h = crate::metrics::new_histogram();
        let values = h
            .iter_all()
            .map(|v| h.lowest_equivalent(v.value_iterated_to()))
            .collect();
        Table {
            settings: (h.low(), h.high(), h.sigfig()),
            values,
        }
    })
}

/// The bucket values for `like`'s settings; `None` unless they are the recorder's.
fn bucket_values(like: &Histogram<u64>) -> Option<&'static [u64]> {
    let t = table();
    (t.settings == (like.low(), like.high(), like.sigfig())).then_some(&t.values[..])
}

/// How many buckets the recorder's histograms have.
pub fn bucket_count() -> usize {
    table().values.len()
}

fn be_u32(b: &[u8], at: usize) -> Result<u32, String> {
    b.get(at..at + 4)
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map(u32::from_be_bytes)
        .ok_or_else(|| "histogram is cut short".to_string())
}

fn be_u64(b: &[u8], at: usize) -> Result<u64, String> {
    b.get(at..at + 8)
        .and_then(|s| <[u8; 8]>::try_from(s).ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| "histogram is cut short".to_string())
}

/// LEB128, at most 9 bytes (the ninth taken whole), as HdrHistogram writes.
fn varint(b: &[u8], at: &mut usize) -> Result<u64, String> {
    let mut value = 0u64;
    for i in 0..8 {
        let byte = *b.get(*at).ok_or("histogram counts are cut short")?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    let last = *b.get(*at).ok_or("histogram counts are cut short")?;
    *at += 1;
    Ok(value | (u64::from(last) << 56))
}

fn zig_zag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// The lowest equivalent value of bucket `index` of the recorder's
/// histograms (as [`decode`] numbers them).
pub fn bucket_value(index: usize) -> Option<u64> {
    table().values.get(index).copied()
}

/// Decode one V2 histogram (`bytes` after base64) whose settings must equal
/// `like`'s, calling `each(bucket index, bucket value, count)` for every
/// non-zero bucket in value order. `inflater` is reused between calls.
pub fn decode(
    bytes: &[u8],
    like: &Histogram<u64>,
    inflater: &mut Inflater,
    mut each: impl FnMut(usize, u64, u64),
) -> Result<(), String> {
    let plain: &[u8] = match be_u32(bytes, 0)? {
        V2_COOKIE => &bytes[4..],
        V2_COMPRESSED_COOKIE => {
            let len = be_u32(bytes, 4)? as usize;
            let body = bytes
                .get(8..8 + len)
                .ok_or("compressed histogram is cut short")?;
            let inner = inflater.inflate(body)?;
            if be_u32(inner, 0)? != V2_COOKIE {
                return Err("compressed histogram has no V2 cookie".into());
            }
            &inner[4..]
        }
        c => return Err(format!("not a V2 histogram (cookie {c:#x})")),
    };
    let payload_len = be_u32(plain, 0)? as usize;
    if be_u32(plain, 4)? != 0 {
        return Err("histogram uses a normalizing offset (unsupported)".into());
    }
    let digits = be_u32(plain, 8)?;
    let (low, high) = (be_u64(plain, 12)?, be_u64(plain, 20)?);
    let ratio = f64::from_bits(be_u64(plain, 28)?);
    if (low, high, digits) != (like.low(), like.high(), u32::from(like.sigfig())) {
        return Err(format!(
            "histogram settings differ: lowest {low} highest {high} digits {digits} vs lowest {} highest {} digits {}",
            like.low(),
            like.high(),
            like.sigfig()
        ));
    }
    if ratio != 1.0 {
        return Err("histogram has a double-to-integer ratio (unsupported)".into());
    }
    let counts = plain
        .get(HEADER_LEN..HEADER_LEN + payload_len)
        .ok_or("histogram counts are cut short")?;
    let values = bucket_values(like).ok_or("histogram settings are not the recorder's")?;
    let (mut at, mut index) = (0usize, 0usize);
    while at < counts.len() {
        let n = zig_zag(varint(counts, &mut at)?);
        if n < 0 {
            index = index.saturating_add(n.unsigned_abs() as usize);
            continue;
        }
        let v = *values
            .get(index)
            .ok_or("histogram has more buckets than its settings allow")?;
        if n > 0 {
            each(index, v, n as u64);
        }
        index += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::new_histogram;
    use hdrhistogram::serialization::{Serializer, V2DeflateSerializer, V2Serializer};

    fn xorshift(x: &mut u64) -> u64 {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x
    }

    fn pairs(h: &Histogram<u64>) -> Vec<(u64, u64)> {
        h.iter_recorded()
            .map(|v| {
                (
                    h.lowest_equivalent(v.value_iterated_to()),
                    v.count_at_value(),
                )
            })
            .collect()
    }

    #[test]
    fn equals_the_crates_decoder_on_random_histograms() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut scratch = Inflater::default();
        for round in 0..40 {
            let mut h = new_histogram();
            let n = 1 + xorshift(&mut x) % 3000;
            for _ in 0..n {
                let v = xorshift(&mut x);
                let us = match v % 10 {
                    0..=6 => 1 + v % 20_000,
                    7..=8 => 20_000 + v % 2_000_000,
                    _ => v % (h.high() + 10),
                };
                h.saturating_record_n(us, 1 + (v >> 40) % 1000);
            }
            for deflate in [false, true] {
                let mut buf = Vec::new();
                if deflate {
                    V2DeflateSerializer::new().serialize(&h, &mut buf).unwrap();
                } else {
                    V2Serializer::new().serialize(&h, &mut buf).unwrap();
                }
                let mut got = Vec::new();
                decode(&buf, &h, &mut scratch, |i, v, c| {
                    assert_eq!(bucket_value(i), Some(v));
                    got.push((v, c))
                })
                .unwrap();
                assert_eq!(got, pairs(&h), "round {round}, deflate {deflate}");
                // And what the crate's own decoder reads from the same bytes.
                let theirs: Histogram<u64> = hdrhistogram::serialization::Deserializer::new()
                    .deserialize(&mut buf.as_slice())
                    .unwrap();
                assert_eq!(got, pairs(&theirs), "round {round}, deflate {deflate}");
            }
        }
    }

    #[test]
    fn refuses_bad_bytes_without_panicking() {
        let like = new_histogram();
        let mut h = new_histogram();
        h.saturating_record(1234);
        let mut buf = Vec::new();
        V2DeflateSerializer::new().serialize(&h, &mut buf).unwrap();
        let mut scratch = Inflater::default();
        for cut in 0..buf.len() {
            assert!(decode(&buf[..cut], &like, &mut scratch, |_, _, _| {}).is_err());
        }
        let mut plain = Vec::new();
        V2Serializer::new().serialize(&h, &mut plain).unwrap();
        for cut in 0..plain.len() {
            assert!(decode(&plain[..cut], &like, &mut scratch, |_, _, _| {}).is_err());
        }
        let other = Histogram::<u64>::new_with_bounds(1, 1000, 2).unwrap();
        let err = decode(&buf, &other, &mut scratch, |_, _, _| {}).unwrap_err();
        assert!(err.contains("settings differ"), "{err}");
        assert!(decode(b"\0\0\0\0junk", &like, &mut scratch, |_, _, _| {}).is_err());
    }
}
