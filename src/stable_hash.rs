//! Names that other rotui processes, on other laptops and in other
//! versions, must derive the same way: a PostgreSQL advisory lock's key, a
//! username shortened to fit its engine. So the hash is FNV-1a, whose
//! constants are fixed forever (std's hasher may change between Rust
//! releases), and a name is cut to fit in one way.

/// FNV-1a, 64 bits.
pub fn fnv1a_64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// FNV-1a, 32 bits.
pub fn fnv1a_32(bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .fold(0x811c_9dc5, |h, b| (h ^ u32::from(*b)).wrapping_mul(0x0100_0193))
}

/// `name` without as many trailing characters as it takes for `measure`
/// (bytes, characters: the limit's own unit) to say it fits `budget`.
/// The caller adds a hash of the whole, so two names cut alike stay apart.
pub fn cut_to_fit(name: &str, budget: usize, measure: impl Fn(&str) -> usize) -> String {
    let mut head = name.to_owned();
    while measure(&head) > budget {
        head.pop();
    }
    head
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hashes_never_change() {
        // Published FNV-1a test vectors: a change here renames every lock.
        assert_eq!(fnv1a_64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a_64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a_32(b""), 0x811c_9dc5);
        assert_eq!(fnv1a_32(b"a"), 0xe40c_292c);
    }

    #[test]
    fn cutting_keeps_whole_characters() {
        assert_eq!(cut_to_fit("abcdef", 4, str::len), "abcd");
        assert_eq!(cut_to_fit("ab", 4, str::len), "ab");
        // "é" is two bytes: it goes whole.
        assert_eq!(cut_to_fit("abé", 3, str::len), "ab");
        assert_eq!(cut_to_fit("abé", 3, |s| s.chars().count()), "abé");
    }
}
