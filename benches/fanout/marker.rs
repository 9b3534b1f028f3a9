//! The benchmark's message format and the scanner that finds it again in
//! whatever a server sends back. Pure: no I/O, no clocks.
//!
//! A line is `#SENDER:SEQ:SENT_NS#` then padding, then `\n`, exactly `size`
//! bytes in all. Deliveries are counted by finding these markers anywhere in the
//! received byte stream, never by parsing the server's own output format, so the
//! generator can drive any chat server (the Node tutorial's relays raw chunks
//! with no line framing at all).

/// The padding alphabet. Each line's padding starts at a letter chosen by its
/// sequence number, so a line whose tail was swapped with another's, or cut and
/// spliced with a prefix, fails the check. Letters only: a digit after `#` is
/// what starts a marker, and the padding must never look like one.
const ALPHABET: &[u8; 26] = b"abcdefghijklmnopqrstuvwxyz";

/// Digits allowed in one number of a marker: more cannot be a number we sent
/// (and would overflow a `u64`).
const MAX_DIGITS: usize = 19;

/// Digits written for the send time, nanoseconds since the run's start. The
/// numbers are written zero-padded to fixed widths that are multiples of eight
/// because the scanner reads eight digits at a time (see [`eight_digits`]); it
/// accepts any width.
const TIME_DIGITS: usize = 16;
/// Digits written for the sender and the sequence number.
const ID_DIGITS: usize = 8;

/// What the scanner found at one `#` followed by a digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Found {
    /// A whole, intact line.
    Marker {
        /// The sending client's index (0-based, among the senders).
        sender: u32,
        /// The line's sequence number for that sender (0-based).
        seq: u32,
        /// When it was sent: nanoseconds since the run's shared `Instant`.
        sent_ns: u64,
    },
    /// Something that began like a marker but is not one intact: a line cut in
    /// two (the Node server relays chunks that end mid-line), or mangled bytes.
    Corrupt,
}

/// The outcome of parsing at one `#`.
#[derive(Debug, PartialEq, Eq)]
enum Parse {
    Whole(Found, usize),
    /// Consistent so far, but the bytes end: wait for the next read.
    Partial,
    /// A `#` that does not start a marker (the padding follows a closing `#`).
    NotMarker,
    Corrupt,
}

/// Lines of one fixed size: writes them and finds them.
#[derive(Debug, Clone)]
pub(crate) struct Format {
    size: usize,
    /// The alphabet repeated, long enough for any padding at any start letter.
    pad: Vec<u8>,
}

impl Format {
    /// A format for lines of exactly `size` bytes, newline included.
    pub(crate) fn new(size: usize) -> Format {
        let pad = ALPHABET.iter().copied().cycle().take(size + 26).collect();
        Format { size, pad }
    }

    /// The shortest line that fits a marker for this many senders and messages.
    pub(crate) fn min_size(senders: usize, messages: usize) -> usize {
        // `#` S `:` Q `:` T `#` `\n`
        5 + digits(senders.saturating_sub(1) as u64).max(ID_DIGITS)
            + digits(messages.saturating_sub(1) as u64).max(ID_DIGITS)
            + TIME_DIGITS
    }

    /// Appends one line.
    pub(crate) fn write_line(&self, out: &mut Vec<u8>, sender: u32, seq: u32, sent_ns: u64) {
        let start = out.len();
        out.push(b'#');
        push_decimal(out, u64::from(sender), ID_DIGITS);
        out.push(b':');
        push_decimal(out, u64::from(seq), ID_DIGITS);
        out.push(b':');
        push_decimal(out, sent_ns, TIME_DIGITS);
        out.push(b'#');
        let head = out.len() - start;
        let pad_len = self.size.saturating_sub(head + 1);
        let first = seq as usize % 26;
        out.extend_from_slice(&self.pad[first..first + pad_len]);
        out.push(b'\n');
    }

    /// Reports every marker (and every broken one) in `data`, in order, and
    /// returns how many bytes were consumed: the rest is the start of a marker
    /// cut off by the end of this read, to be put in front of the next one.
    pub(crate) fn scan(&self, data: &[u8], mut on_found: impl FnMut(Found)) -> usize {
        let mut pos = 0;
        while let Some(offset) = memchr::memchr(b'#', &data[pos..]) {
            let start = pos + offset;
            match self.parse(&data[start..]) {
                Parse::Whole(found, len) => {
                    on_found(found);
                    pos = start + len;
                }
                Parse::Partial => return start,
                Parse::NotMarker => pos = start + 1,
                Parse::Corrupt => {
                    on_found(Found::Corrupt);
                    // Past this `#` only: a line spliced into the middle of this
                    // one may start right after it. The broken line's own tail
                    // holds no `#` followed by a digit, so it is not counted twice.
                    pos = start + 1;
                }
            }
        }
        data.len()
    }

    /// Parses a marker at the start of `b` (which begins with `#`).
    fn parse(&self, b: &[u8]) -> Parse {
        match b.get(1) {
            None => return Parse::Partial,
            Some(c) if !c.is_ascii_digit() => return Parse::NotMarker,
            Some(_) => {}
        }
        let mut at = 1;
        let mut numbers = [0u64; 3];
        for (index, number) in numbers.iter_mut().enumerate() {
            let terminator = if index == 2 { b'#' } else { b':' };
            match parse_number(&b[at..], terminator) {
                Number::Ok(value, used) => {
                    *number = value;
                    at += used;
                }
                Number::Partial => return Parse::Partial,
                Number::Bad => return Parse::Corrupt,
            }
        }
        let [sender, seq, sent_ns] = numbers;
        let (Ok(sender), Ok(seq)) = (u32::try_from(sender), u32::try_from(seq)) else {
            return Parse::Corrupt;
        };
        let head = at;
        if head + 1 > self.size {
            return Parse::Corrupt;
        }
        let pad_len = self.size - head - 1;
        let first = seq as usize % 26;
        let expected = &self.pad[first..first + pad_len];
        let available = (b.len() - head).min(pad_len);
        if b[head..head + available] != expected[..available] {
            return Parse::Corrupt;
        }
        match b.get(head + pad_len) {
            None => Parse::Partial,
            Some(b'\n') => Parse::Whole(
                Found::Marker {
                    sender,
                    seq,
                    sent_ns,
                },
                self.size,
            ),
            Some(_) => Parse::Corrupt,
        }
    }
}

#[derive(Debug)]
enum Number {
    /// The value, and the bytes used including the terminator.
    Ok(u64, usize),
    Partial,
    Bad,
}

/// Parses decimal digits up to `terminator`. This is the generator's hottest
/// loop (three numbers per delivery, millions of deliveries a second): eight
/// digits at a time where it can (see [`eight_digits`]), then one digit at a
/// time with a single well-predicted branch, and the checks after the loops.
#[inline(always)]
fn parse_number(b: &[u8], terminator: u8) -> Number {
    let mut value = 0u64;
    let mut i = 0;
    while let Some(chunk) = b.get(i..i + 8) {
        let chunk = u64::from_le_bytes(chunk.try_into().expect("a slice of 8 bytes"));
        let Some(eight) = eight_digits(chunk) else {
            break;
        };
        value = value.wrapping_mul(100_000_000).wrapping_add(eight);
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        let digit = c.wrapping_sub(b'0');
        if digit > 9 {
            break;
        }
        value = value.wrapping_mul(10).wrapping_add(u64::from(digit));
        i += 1;
    }
    if i > MAX_DIGITS {
        return Number::Bad;
    }
    match b.get(i) {
        None => Number::Partial,
        Some(&c) if c == terminator && i > 0 => Number::Ok(value, i + 1),
        Some(_) => Number::Bad,
    }
}

/// The value of eight ASCII digits read as a little-endian `u64`, or `None` if
/// any byte is not a digit: the SWAR trick from Lemire's number parsing, two
/// multiplications instead of eight dependent multiply-adds.
#[inline(always)]
fn eight_digits(chunk: u64) -> Option<u64> {
    let high_bits = 0x8080_8080_8080_8080u64;
    // A byte below '0' wraps the subtraction, one above '9' overflows the
    // addition into its top bit.
    let below = chunk.wrapping_sub(0x3030_3030_3030_3030);
    let above = chunk.wrapping_add(0x4646_4646_4646_4646);
    if (below | above) & high_bits != 0 {
        return None;
    }
    let mask = 0x0000_00FF_0000_00FFu64;
    let mul1 = 100 + (1_000_000u64 << 32);
    let mul2 = 1 + (10_000u64 << 32);
    let pairs = below.wrapping_mul(10).wrapping_add(below >> 8);
    let value = ((pairs & mask).wrapping_mul(mul1))
        .wrapping_add(((pairs >> 16) & mask).wrapping_mul(mul2))
        >> 32;
    Some(value)
}

fn digits(mut n: u64) -> usize {
    let mut count = 1;
    while n >= 10 {
        n /= 10;
        count += 1;
    }
    count
}

/// Appends `n` in decimal, zero-padded to at least `width` digits, without
/// going through `fmt` (senders write millions).
fn push_decimal(out: &mut Vec<u8>, mut n: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i.min(buf.len() - width.min(buf.len()))..]);
}

/// Checks the scanner against the cases that matter, including the ones the
/// Node server produces. A bench with `harness = false` runs no `#[test]`s, so
/// `--self-test` (and every suite run) calls this instead.
///
/// # Errors
/// The first case that fails, described.
pub(crate) fn self_test() -> Result<(), String> {
    let format = Format::new(64);
    let line = |sender, seq, ns| {
        let mut out = Vec::new();
        format.write_line(&mut out, sender, seq, ns);
        out
    };
    let collect = |data: &[u8]| {
        let mut found = Vec::new();
        let used = format.scan(data, |f| found.push(f));
        (found, used)
    };
    let one = line(3, 41, 123_456_789);
    check(one.len() == 64, "a line is exactly --size bytes")?;
    let mut framed = b"> 127.0.0.1:5000: ".to_vec();
    framed.extend_from_slice(&one);
    framed.extend_from_slice(b"* someone joined\n> x: ");
    framed.extend_from_slice(&line(0, 0, 7));
    let (found, used) = collect(&framed);
    check(
        found
            == vec![
                Found::Marker {
                    sender: 3,
                    seq: 41,
                    sent_ns: 123_456_789,
                },
                Found::Marker {
                    sender: 0,
                    seq: 0,
                    sent_ns: 7,
                },
            ],
        "two framed lines are found",
    )?;
    check(used == framed.len(), "nothing is carried after whole lines")?;
    for cut in 1..one.len() {
        let (found, used) = collect(&one[..cut]);
        check(found.is_empty() && used == 0, "a cut line is carried whole")?;
    }
    // Node: a chunk ends mid-line, the next chunk (from the same sender) gets a
    // fresh prefix, and another sender's line arrives in between.
    for cut in 1..one.len() - 1 {
        let mut spliced = one[..cut].to_vec();
        spliced.extend_from_slice(b"> 127.0.0.1:5001: ");
        spliced.extend_from_slice(&line(1, 2, 99));
        spliced.extend_from_slice(b"> 127.0.0.1:5000: ");
        spliced.extend_from_slice(&one[cut..]);
        let (found, used) = collect(&spliced);
        let corrupt = found.iter().filter(|f| **f == Found::Corrupt).count();
        let markers = found.len() - corrupt;
        check(markers == 1, "the intact line between the halves is found")?;
        // Cut right after the `#`, nothing of the line looks like a marker: lost.
        check(
            corrupt == usize::from(cut > 1),
            "a line cut in two is one corrupt",
        )?;
        check(used == spliced.len(), "nothing is carried")?;
    }
    Ok(())
}

fn check(ok: bool, what: &str) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(format!("marker self-test failed: {what}"))
    }
}
