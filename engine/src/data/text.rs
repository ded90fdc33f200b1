//! Character-level text: a corpus, its vocabulary, and windows of tokens
//! with next-character targets.

use std::collections::BTreeSet;
use std::path::Path;

use super::DataError;

/// The characters of a corpus, sorted, each with its token id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vocab {
    chars: Vec<char>,
}

impl Vocab {
    pub fn from_text(text: &str) -> Self {
        let set: BTreeSet<char> = text.chars().collect();
        Vocab {
            chars: set.into_iter().collect(),
        }
    }

    pub fn from_chars(chars: Vec<char>) -> Self {
        Vocab { chars }
    }

    pub fn len(&self) -> usize {
        self.chars.len()
    }

    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    pub fn chars(&self) -> &[char] {
        &self.chars
    }

    pub fn id(&self, c: char) -> Option<u32> {
        self.chars.binary_search(&c).ok().map(|i| i as u32)
    }

    pub fn char(&self, id: u32) -> Option<char> {
        self.chars.get(id as usize).copied()
    }
}

/// Reads a corpus as UTF-8; an empty corpus is an error.
pub fn read_corpus(path: &Path) -> Result<String, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        DataError::format(
            path,
            format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    if text.chars().nth(1).is_none() {
        return Err(DataError::format(
            path,
            "the corpus is empty: a text model needs at least two characters",
        ));
    }
    Ok(text)
}
