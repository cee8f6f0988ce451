//! A list's selection, held by the key of its row so that refreshes which
//! reorder or insert rows keep the same row selected, and the window of
//! rows a list lays out around it.

/// A list's selection. `index` is the position within the visible
/// (filtered) rows, kept in step by `update`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub key: Option<String>,
    pub index: usize,
    /// Indices of rows matching the filter; `None` = all rows.
    pub visible: Option<Vec<usize>>,
    pub filter: String,
}

/// The underlying row index of the `index`-th visible row.
pub fn row_at(sel: &Selection, index: usize) -> Option<usize> {
    match &sel.visible {
        Some(v) => v.get(index).copied(),
        None => Some(index),
    }
}

/// The rows to lay out for a list of `len` rows with `selected` in view in
/// `height` lines: only these are ever built, whatever `len` is.
pub fn window(len: usize, selected: usize, height: usize) -> std::ops::Range<usize> {
    if height == 0 || len == 0 {
        return 0..0;
    }
    let start = if selected < height {
        0
    } else {
        selected + 1 - height
    };
    start..(start + height).min(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_keep_the_selection_visible() {
        assert_eq!(window(10_000, 0, 20), 0..20);
        assert_eq!(window(10_000, 5_000, 20), 4981..5001);
        assert_eq!(window(5, 4, 20), 0..5);
        assert_eq!(window(0, 0, 20), 0..0);
    }
}
