//! A cursor over one RESP2 reply in a byte buffer: frames are read in place (strings borrow the
//! buffer), and a reply cut short anywhere is reported as incomplete, so the caller reads more
//! and starts again.

/// Why no frame could be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Short {
    /// The buffer ends before the frame does.
    Incomplete,
    /// Not RESP2, or not the shape expected.
    Invalid(&'static str),
}

/// One frame; an array's elements follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// `+...`
    Simple(&'a [u8]),
    /// `-...`
    Error(&'a [u8]),
    /// `:...`
    Int(i64),
    /// `$n` and `n` bytes; `None` for `$-1`.
    Bulk(Option<&'a [u8]>),
    /// `*n`: the number of elements that follow; `None` for `*-1`.
    Array(Option<usize>),
}

/// Reads frames from the start of a buffer.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// At the start of `buf`.
    #[must_use]
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// How many bytes the frames read so far took.
    #[must_use]
    pub fn consumed(&self) -> usize {
        self.pos
    }

    /// The bytes up to the next CRLF, which is passed.
    fn line(&mut self) -> Result<&'a [u8], Short> {
        let rest = &self.buf[self.pos..];
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(Short::Incomplete)?;
        if end == 0 || rest[end - 1] != b'\r' {
            return Err(Short::Invalid("a line ends with CRLF"));
        }
        self.pos += end + 1;
        Ok(&rest[..end - 1])
    }

    /// The next frame.
    ///
    /// # Errors
    /// [`Short::Incomplete`] when the buffer ends inside it.
    pub fn frame(&mut self) -> Result<Frame<'a>, Short> {
        let kind = *self.buf.get(self.pos).ok_or(Short::Incomplete)?;
        self.pos += 1;
        let line = self.line()?;
        Ok(match kind {
            b'+' => Frame::Simple(line),
            b'-' => Frame::Error(line),
            b':' => Frame::Int(number(line)?),
            b'$' => match usize::try_from(number(line)?) {
                Err(_) => Frame::Bulk(None),
                Ok(len) => {
                    let end = self.pos + len;
                    if self.buf.len() < end + 2 {
                        return Err(Short::Incomplete);
                    }
                    if &self.buf[end..end + 2] != b"\r\n" {
                        return Err(Short::Invalid("a bulk string ends with CRLF"));
                    }
                    let bytes = &self.buf[self.pos..end];
                    self.pos = end + 2;
                    Frame::Bulk(Some(bytes))
                }
            },
            b'*' => Frame::Array(usize::try_from(number(line)?).ok()),
            _ => return Err(Short::Invalid("an unknown RESP2 type")),
        })
    }

    /// A bulk or simple string.
    ///
    /// # Errors
    /// [`Short::Invalid`] for any other frame.
    pub fn string(&mut self) -> Result<&'a [u8], Short> {
        match self.frame()? {
            Frame::Bulk(Some(bytes)) | Frame::Simple(bytes) => Ok(bytes),
            _ => Err(Short::Invalid("a string was expected")),
        }
    }

    /// The header of an array of exactly `n` elements.
    ///
    /// # Errors
    /// [`Short::Invalid`] for any other frame.
    pub fn array_of(&mut self, n: usize) -> Result<(), Short> {
        match self.frame()? {
            Frame::Array(Some(len)) if len == n => Ok(()),
            _ => Err(Short::Invalid("an array of another length")),
        }
    }

    /// Passes one value; the message if it is an error.
    ///
    /// # Errors
    /// As [`Reader::frame`].
    pub fn error_or_skip(&mut self) -> Result<Option<&'a [u8]>, Short> {
        match self.frame()? {
            Frame::Error(message) => Ok(Some(message)),
            Frame::Array(Some(n)) => {
                for _ in 0..n {
                    self.skip()?;
                }
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    /// Passes one value, an array with all its elements.
    ///
    /// # Errors
    /// As [`Reader::frame`].
    pub fn skip(&mut self) -> Result<(), Short> {
        let mut left = 1usize;
        while left > 0 {
            left -= 1;
            if let Frame::Array(Some(n)) = self.frame()? {
                left += n;
            }
        }
        Ok(())
    }
}

/// A decimal integer, optionally negative (lengths and counts: a stream entry has several).
fn number(line: &[u8]) -> Result<i64, Short> {
    const NOT_A_NUMBER: Short = Short::Invalid("a number was expected");
    let (negative, digits) = match line {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, line),
    };
    if digits.is_empty() {
        return Err(NOT_A_NUMBER);
    }
    let mut n: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(NOT_A_NUMBER);
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(i64::from(d - b'0')))
            .ok_or(NOT_A_NUMBER)?;
    }
    Ok(if negative { -n } else { n })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_frame_kind_in_place() {
        let buf = b"+OK\r\n-ERR no\r\n:-42\r\n$3\r\na\r\n\r\n$-1\r\n*2\r\n$0\r\n\r\n*-1\r\n*-1\r\n";
        let mut r = Reader::new(buf);
        assert_eq!(r.frame(), Ok(Frame::Simple(b"OK")));
        assert_eq!(r.clone().error_or_skip(), Ok(Some(&b"ERR no"[..])));
        assert_eq!(r.frame(), Ok(Frame::Error(b"ERR no")));
        assert_eq!(r.frame(), Ok(Frame::Int(-42)));
        assert_eq!(r.frame(), Ok(Frame::Bulk(Some(b"a\r\n"))));
        assert_eq!(r.frame(), Ok(Frame::Bulk(None)));
        assert_eq!(r.error_or_skip(), Ok(None), "the array and its elements");
        assert_eq!(r.frame(), Ok(Frame::Array(None)));
        assert_eq!(r.frame(), Err(Short::Incomplete));
    }

    #[test]
    fn a_cut_anywhere_is_incomplete_and_garbage_is_invalid() {
        let buf = b"*2\r\n$5\r\nhello\r\n:7\r\n";
        for end in 0..buf.len() {
            assert_eq!(
                Reader::new(&buf[..end]).skip(),
                Err(Short::Incomplete),
                "{end}"
            );
        }
        assert_eq!(Reader::new(buf).skip(), Ok(()));
        for garbage in [&b"?x\r\n"[..], b":x\r\n", b"$1\r\nab\r\n", b"+a\n"] {
            assert!(
                matches!(Reader::new(garbage).frame(), Err(Short::Invalid(_))),
                "{garbage:?}"
            );
        }
    }

    #[test]
    fn numbers_are_decimal_and_bounded() {
        fn int(line: &[u8]) -> Result<Frame<'_>, Short> {
            Reader::new(line).frame()
        }
        assert_eq!(int(b":0\r\n"), Ok(Frame::Int(0)));
        assert_eq!(
            int(b":-9223372036854775807\r\n"),
            Ok(Frame::Int(-9_223_372_036_854_775_807))
        );
        for bad in [
            &b":-\r\n"[..],
            b":\r\n",
            b":1-\r\n",
            b":+1\r\n",
            b":99999999999999999999\r\n",
        ] {
            assert!(matches!(int(bad), Err(Short::Invalid(_))), "{bad:?}");
        }
    }
}
