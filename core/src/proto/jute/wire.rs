//! Jute primitives: a bounds-checked [`Reader`] over a byte slice and a [`Writer`] that
//! appends to a `Vec<u8>` (ZooKeeper's `BinaryInputArchive` / `BinaryOutputArchive`).
//!
//! Encoding (reference §2): big-endian two's-complement `int` (4 bytes) and `long`
//! (8 bytes); `boolean` is one byte; `buffer` and `ustring` are an `int` length then that
//! many bytes, length `-1` meaning null; `vector<T>` is an `int` count then the elements,
//! count `-1` meaning null.
//!
//! Invariants and decisions:
//! - The reader never panics and never indexes unchecked; every failure is a
//!   [`DecodeError`] carrying the offset.
//! - A length or count is checked against the bytes that are left *before* anything is
//!   allocated: a count `C` of elements of at least `m` bytes each needs `C * m` bytes left.
//!   Up-front reservations never exceed the input's size in bytes; what is allocated
//!   afterwards is proportional to data actually present, never to a number read from it.
//! - Lengths below `-1` are errors ([`DecodeError::NegativeLength`]).
//! - Booleans: any non-zero byte reads as `true` (the Java reader does the same); the writer
//!   emits 0 or 1, so a record read from a byte like `0x05` re-encodes as `0x01`.
//! - Strings must be valid UTF-8 ([`DecodeError::BadUtf8`]). Java's reader would replace
//!   bad sequences; we refuse, so a request with a broken path is answered with
//!   MarshallingError rather than acted on under a mangled name.

use crate::proto::jute::error::DecodeError;

/// A cursor over a byte slice that decodes jute primitives.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader positioned at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    /// Offset of the next byte to be read.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Number of bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// True when every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The bytes not yet read (does not advance).
    pub fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    /// Takes exactly `n` raw bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let at = self.pos;
        let end = at
            .checked_add(n)
            .ok_or(DecodeError::Truncated { at, need: n })?;
        match self.buf.get(at..end) {
            Some(s) => {
                self.pos = end;
                Ok(s)
            }
            None => Err(DecodeError::Truncated {
                at,
                need: n.saturating_sub(self.remaining()),
            }),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// A single byte.
    pub fn byte(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    /// A jute `boolean`: any non-zero byte is `true`.
    pub fn boolean(&mut self) -> Result<bool, DecodeError> {
        Ok(self.byte()? != 0)
    }

    /// A jute `int`.
    pub fn int(&mut self) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.array::<4>()?))
    }

    /// A jute `long`.
    pub fn long(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.array::<8>()?))
    }

    /// Reads a length/count field and checks that `len * unit` bytes are left.
    /// Returns `None` for the null marker `-1`.
    fn length(&mut self, unit: usize) -> Result<Option<usize>, DecodeError> {
        let at = self.pos;
        let len = self.int()?;
        if len == -1 {
            return Ok(None);
        }
        let n = usize::try_from(len).map_err(|_| DecodeError::NegativeLength { at, len })?;
        let remaining = self.remaining();
        if n.saturating_mul(unit) > remaining {
            return Err(DecodeError::LengthExceedsInput { at, len, remaining });
        }
        Ok(Some(n))
    }

    /// A jute `buffer`; `None` is the null buffer (length -1).
    pub fn buffer(&mut self) -> Result<Option<Vec<u8>>, DecodeError> {
        match self.length(1)? {
            None => Ok(None),
            Some(n) => Ok(Some(self.take(n)?.to_vec())),
        }
    }

    /// A jute `buffer` where null and empty mean the same thing (passwords, credentials).
    pub fn buffer_or_empty(&mut self) -> Result<Vec<u8>, DecodeError> {
        Ok(self.buffer()?.unwrap_or_default())
    }

    /// A jute `ustring`; `None` is the null string (length -1).
    pub fn ustring(&mut self) -> Result<Option<String>, DecodeError> {
        let Some(n) = self.length(1)? else {
            return Ok(None);
        };
        let at = self.pos;
        let bytes = self.take(n)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(Some(s.to_owned())),
            Err(_) => Err(DecodeError::BadUtf8 { at }),
        }
    }

    /// A jute `ustring` where null reads as the empty string. Used for paths, schemes and
    /// ids: ZooKeeper rejects a null path the same way as an empty one (BadArguments), so
    /// the distinction carries no meaning there.
    pub fn string(&mut self) -> Result<String, DecodeError> {
        Ok(self.ustring()?.unwrap_or_default())
    }

    /// A jute `vector`; `None` is the null vector. `min_elem_len` is the smallest encoding
    /// of one element, used to reject impossible counts before allocating.
    pub fn vector<T>(
        &mut self,
        min_elem_len: usize,
        mut elem: impl FnMut(&mut Reader<'a>) -> Result<T, DecodeError>,
    ) -> Result<Option<Vec<T>>, DecodeError> {
        let Some(n) = self.length(min_elem_len.max(1))? else {
            return Ok(None);
        };
        // `n` elements fit in the input, but an element may take more memory than its
        // encoding; reserve no more than the input's size in bytes, then let it grow.
        let cap = n.min(self.remaining() / std::mem::size_of::<T>().max(1));
        let mut out = Vec::with_capacity(cap);
        for _ in 0..n {
            out.push(elem(self)?);
        }
        Ok(Some(out))
    }

    /// A jute `vector` where null reads as empty (ACL lists, child lists, watch lists).
    pub fn vector_or_empty<T>(
        &mut self,
        min_elem_len: usize,
        elem: impl FnMut(&mut Reader<'a>) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        Ok(self.vector(min_elem_len, elem)?.unwrap_or_default())
    }

    /// A `vector<ustring>` where null reads as empty.
    pub fn strings(&mut self) -> Result<Vec<String>, DecodeError> {
        self.vector_or_empty(4, |r| r.string())
    }
}

/// Appends jute primitives to a byte vector.
#[derive(Debug)]
pub struct Writer<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> Writer<'a> {
    /// A writer appending to `out`.
    pub fn new(out: &'a mut Vec<u8>) -> Writer<'a> {
        Writer { out }
    }

    /// Bytes in the underlying vector (including what was there before).
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// True when the underlying vector is empty.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// A single byte.
    pub fn byte(&mut self, v: u8) {
        self.out.push(v);
    }

    /// A jute `boolean`, written as 0 or 1.
    pub fn boolean(&mut self, v: bool) {
        self.out.push(u8::from(v));
    }

    /// A jute `int`.
    pub fn int(&mut self, v: i32) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }

    /// A jute `long`.
    pub fn long(&mut self, v: i64) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }

    /// Raw bytes, no length.
    pub fn raw(&mut self, v: &[u8]) {
        self.out.extend_from_slice(v);
    }

    fn length(&mut self, n: usize) {
        // Our own values: a record is built from data that already fit in a frame, so a
        // length above i32::MAX means a caller bug, not hostile input.
        let len = i32::try_from(n).expect("jute length fits in i32 (frames are < 2 GiB)");
        self.int(len);
    }

    /// A jute `buffer`; `None` writes the null marker -1.
    pub fn buffer(&mut self, v: Option<&[u8]>) {
        match v {
            None => self.int(-1),
            Some(b) => {
                self.length(b.len());
                self.raw(b);
            }
        }
    }

    /// A jute `ustring`; `None` writes the null marker -1.
    pub fn ustring(&mut self, v: Option<&str>) {
        self.buffer(v.map(str::as_bytes));
    }

    /// A non-null jute `ustring`.
    pub fn string(&mut self, v: &str) {
        self.buffer(Some(v.as_bytes()));
    }

    /// A non-null jute `vector`.
    pub fn vector<T>(&mut self, items: &[T], mut elem: impl FnMut(&mut Writer<'a>, &T)) {
        self.length(items.len());
        for it in items {
            elem(self, it);
        }
    }

    /// A non-null `vector<ustring>`.
    pub fn strings(&mut self, items: &[String]) {
        self.vector(items, |w, s| w.string(s));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_and_longs_are_big_endian() {
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out);
        w.int(-2);
        w.long(0x0102_0304_0506_0708);
        w.boolean(true);
        assert_eq!(
            out,
            [0xff, 0xff, 0xff, 0xfe, 1, 2, 3, 4, 5, 6, 7, 8, 1].to_vec()
        );
        let mut r = Reader::new(&out);
        assert_eq!(r.int(), Ok(-2));
        assert_eq!(r.long(), Ok(0x0102_0304_0506_0708));
        assert_eq!(r.boolean(), Ok(true));
        assert!(r.is_empty());
    }

    #[test]
    fn any_nonzero_byte_is_true() {
        assert_eq!(Reader::new(&[0x05]).boolean(), Ok(true));
        assert_eq!(Reader::new(&[0x00]).boolean(), Ok(false));
    }

    #[test]
    fn truncated_int_reports_offset_and_shortfall() {
        let mut r = Reader::new(&[0, 0, 0, 1, 9, 9]);
        assert_eq!(r.int(), Ok(1));
        assert_eq!(r.int(), Err(DecodeError::Truncated { at: 4, need: 2 }));
    }

    #[test]
    fn null_and_empty_buffers_are_distinct() {
        assert_eq!(Reader::new(&[0xff; 4]).buffer(), Ok(None));
        assert_eq!(Reader::new(&[0; 4]).buffer(), Ok(Some(Vec::new())));
        let mut out = Vec::new();
        Writer::new(&mut out).buffer(None);
        Writer::new(&mut out).buffer(Some(b""));
        assert_eq!(out, [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0].to_vec());
    }

    #[test]
    fn lengths_below_minus_one_are_rejected() {
        let bytes = (-2i32).to_be_bytes();
        assert_eq!(
            Reader::new(&bytes).buffer(),
            Err(DecodeError::NegativeLength { at: 0, len: -2 })
        );
    }

    #[test]
    fn huge_count_is_rejected_before_allocating() {
        let mut bytes = 1_000_000_000i32.to_be_bytes().to_vec();
        bytes.extend_from_slice(&[0; 10]);
        let got = Reader::new(&bytes).strings();
        assert_eq!(
            got,
            Err(DecodeError::LengthExceedsInput {
                at: 0,
                len: 1_000_000_000,
                remaining: 10
            })
        );
        // Count 3 of 4-byte-minimum strings needs 12 bytes; 10 are left.
        let mut bytes = 3i32.to_be_bytes().to_vec();
        bytes.extend_from_slice(&[0; 10]);
        assert!(matches!(
            Reader::new(&bytes).strings(),
            Err(DecodeError::LengthExceedsInput { len: 3, .. })
        ));
    }

    #[test]
    fn invalid_utf8_is_a_typed_error() {
        let bytes = [0, 0, 0, 2, 0xc3, 0x28];
        assert_eq!(
            Reader::new(&bytes).ustring(),
            Err(DecodeError::BadUtf8 { at: 4 })
        );
    }

    #[test]
    fn string_round_trip_and_null_string() {
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out);
        w.string("/a");
        w.ustring(None);
        w.strings(&["x".to_owned(), "yz".to_owned()]);
        let mut r = Reader::new(&out);
        assert_eq!(r.string().as_deref(), Ok("/a"));
        assert_eq!(r.ustring(), Ok(None));
        assert_eq!(r.strings(), Ok(vec!["x".to_owned(), "yz".to_owned()]));
        assert!(r.is_empty());
        assert_eq!(Reader::new(&[0xff; 4]).string().as_deref(), Ok(""));
    }
}
