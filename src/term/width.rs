//! How many terminal columns a character takes: 0, 1 or 2. Used by the line
//! editor to keep its cursor where the terminal really puts it (pure).

/// Columns `c` takes on a terminal.
///
/// A table-free approximation of Unicode's East Asian Width and of the
/// zero-width marks: exact for Latin, Greek, Cyrillic, CJK, Hangul, kana and
/// the common emoji blocks, which is what a chat room meets. The full tables
/// (the `unicode-width` crate) are a runtime dependency the design card does
/// not allow; a character this guesses wrong only shifts the cursor until the
/// line is redrawn without it, never outside the input line, because the
/// editor keeps the last column free.
pub(crate) fn char_width(c: char) -> usize {
    match c as u32 {
        // Combining marks, zero-width spaces and joiners, variation selectors.
        0x0300..=0x036f
        | 0x0483..=0x0489
        | 0x0591..=0x05bd
        | 0x0610..=0x061a
        | 0x064b..=0x065f
        | 0x1ab0..=0x1aff
        | 0x1dc0..=0x1dff
        | 0x200b..=0x200f
        | 0x20d0..=0x20ff
        | 0xfe00..=0xfe0f
        | 0xfe20..=0xfe2f
        | 0xe0100..=0xe01ef => 0,
        // Hangul Jamo, CJK and its punctuation, kana, Hangul syllables,
        // compatibility ideographs, fullwidth forms, emoji, and the CJK
        // extension planes.
        0x1100..=0x115f
        | 0x231a..=0x231b
        | 0x23e9..=0x23ec
        | 0x2e80..=0x303e
        | 0x3041..=0x33ff
        | 0x3400..=0x4dbf
        | 0x4e00..=0x9fff
        | 0xa000..=0xa4cf
        | 0xa960..=0xa97f
        | 0xac00..=0xd7a3
        | 0xf900..=0xfaff
        | 0xfe30..=0xfe4f
        | 0xff00..=0xff60
        | 0xffe0..=0xffe6
        | 0x1f300..=0x1f64f
        | 0x1f680..=0x1f6ff
        | 0x1f900..=0x1f9ff
        | 0x1fa70..=0x1faff
        | 0x20000..=0x2fffd
        | 0x30000..=0x3fffd => 2,
        _ => 1,
    }
}

/// Columns `text` takes, the sum of [`char_width`].
pub(crate) fn str_width(text: &str) -> usize {
    text.chars().map(char_width).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_wide_and_zero() {
        assert_eq!(str_width("ann> héllo ✓"), 12);
        assert_eq!(char_width('漢'), 2);
        assert_eq!(char_width('😀'), 2);
        assert_eq!(char_width('한'), 2);
        assert_eq!(char_width('\u{301}'), 0);
        assert_eq!(str_width("e\u{301}"), 1);
    }
}
