//! The IDX format of MNIST and Fashion-MNIST: big-endian magic and counts,
//! then bytes. Files may be gzipped (detected by their magic bytes).

use std::path::{Path, PathBuf};

use super::{read_maybe_gz, DataError, GZIP_MAGIC};

pub const IMAGES_MAGIC: u32 = 2051;
pub const LABELS_MAGIC: u32 = 2049;
/// MNIST and Fashion-MNIST images are this many pixels square; the model's
/// input is checked against it, so a file of another size must say so.
pub const SIDE: usize = 28;

/// One split: `count` images of `rows x cols` bytes and their labels.
#[derive(Debug, Clone)]
pub struct IdxSplit {
    pub pixels: Vec<u8>,
    pub labels: Vec<u8>,
    pub rows: usize,
    pub cols: usize,
}

/// `train` or `t10k`, from a folder holding `{prefix}-images-idx3-ubyte[.gz]`
/// and `{prefix}-labels-idx1-ubyte[.gz]`.
pub fn load(dir: &Path, prefix: &str, classes: usize) -> Result<IdxSplit, DataError> {
    let images_path = find(dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let labels_path = find(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
    let images = read_maybe_gz(&images_path)?;
    let labels = read_maybe_gz(&labels_path)?;

    let (n_images, dims, pixels) = parse(&images_path, &images, IMAGES_MAGIC, 3)?;
    let (n_labels, _, labels) = parse(&labels_path, &labels, LABELS_MAGIC, 1)?;
    if n_images != n_labels {
        return Err(DataError::format(
            &labels_path,
            format!(
                "{n_labels} labels for {n_images} images in {}",
                images_path.display()
            ),
        ));
    }
    if let Some((i, l)) = labels
        .iter()
        .enumerate()
        .find(|(_, l)| **l as usize >= classes)
    {
        return Err(DataError::format(
            &labels_path,
            format!("label {l} of item {i} is outside the {classes} classes"),
        ));
    }
    Ok(IdxSplit {
        pixels: pixels.to_vec(),
        labels: labels.to_vec(),
        rows: dims[1],
        cols: dims[2],
    })
}

/// The images' size from the header of `{prefix}-images-idx3-ubyte[.gz]`,
/// reading (and gunzipping) no more than the header: a cheap check for
/// `dlwb check`.
pub fn check_image_size(dir: &Path, prefix: &str) -> Result<(), DataError> {
    use std::io::Read;
    // A missing or unreadable file is reported by loading, with its help.
    let Ok(path) = find(dir, &format!("{prefix}-images-idx3-ubyte")) else {
        return Ok(());
    };
    let Ok(file) = std::fs::File::open(&path) else {
        return Ok(());
    };
    use std::io::BufRead;
    let mut head = Vec::with_capacity(16);
    let mut raw = std::io::BufReader::new(file);
    // Peeked, not consumed: the decoder or the plain read starts at byte 0.
    let gzipped = raw
        .fill_buf()
        .map_err(|e| DataError::io(&path, e))?
        .starts_with(&GZIP_MAGIC);
    let read = if gzipped {
        flate2::read::GzDecoder::new(raw)
            .take(16)
            .read_to_end(&mut head)
    } else {
        raw.take(16).read_to_end(&mut head)
    };
    read.map_err(|e| DataError::format(&path, format!("corrupt gzip data: {e}")))?;
    if head.len() < 16 {
        return Ok(()); // Loading reports the truncation with its figures.
    }
    let word = |i: usize| u32::from_be_bytes(head[i..i + 4].try_into().unwrap()) as usize;
    if word(0) != IMAGES_MAGIC as usize {
        return Ok(()); // Loading reports the wrong magic number.
    }
    check_side(&path, &[word(4), word(8), word(12)])
}

fn check_side(path: &Path, dims: &[usize]) -> Result<(), DataError> {
    let (rows, cols) = (dims[1], dims[2]);
    if (rows, cols) == (SIDE, SIDE) {
        return Ok(());
    }
    Err(DataError::format(
        path,
        format!("holds {rows}x{cols} images; the model was built for {SIDE}x{SIDE}"),
    ))
}

/// The file, gzipped or not.
fn find(dir: &Path, name: &str) -> Result<PathBuf, DataError> {
    for candidate in [dir.join(name), dir.join(format!("{name}.gz"))] {
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(DataError::Missing {
        path: dir.join(name),
        help: format!(
            "expected {name} or {name}.gz in {}; MNIST's four files are at https://yann.lecun.com/exdb/mnist/",
            dir.display()
        ),
    })
}

/// Checks the header and the length, returning the item count, all
/// dimensions (count first), and the payload.
pub fn parse<'a>(
    path: &Path,
    bytes: &'a [u8],
    magic: u32,
    rank: usize,
) -> Result<(usize, Vec<usize>, &'a [u8]), DataError> {
    let header = 4 + 4 * rank;
    if bytes.len() < header {
        return Err(DataError::format(
            path,
            format!(
                "truncated: {} bytes, shorter than the {header}-byte header",
                bytes.len()
            ),
        ));
    }
    let word = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    let found = word(0);
    if found != magic {
        return Err(DataError::format(
            path,
            format!("wrong magic number {found} (expected {magic}): not an IDX file of this kind"),
        ));
    }
    let dims: Vec<usize> = (0..rank).map(|i| word(4 + 4 * i) as usize).collect();
    let expected = dims.iter().try_fold(1usize, |a, d| a.checked_mul(*d));
    let payload = &bytes[header..];
    match expected {
        Some(n) if n == payload.len() => Ok((dims[0], dims, payload)),
        Some(n) if n > payload.len() => Err(DataError::format(
            path,
            format!(
                "truncated: the header promises {} items ({n} bytes of data) but the file holds {} bytes",
                dims[0],
                payload.len()
            ),
        )),
        _ => Err(DataError::format(
            path,
            format!(
                "{} bytes of data, but the header ({dims:?}) describes {}",
                payload.len(),
                expected.map_or("more than fits in memory".into(), |n| format!("{n} bytes"))
            ),
        )),
    }
}
