//! CIFAR-10's binary batches: records of one label byte and 3,072
//! channel-major pixel bytes (32x32 red, then green, then blue).

use std::path::Path;

use super::DataError;

pub const RECORD: usize = 1 + 3 * 32 * 32;
pub const TRAIN_FILES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
pub const TEST_FILE: &str = "test_batch.bin";

pub const WHERE: &str = "CIFAR-10 is not shipped: download the binary version from \
https://www.cs.toronto.edu/~kriz/cifar.html and unpack it so that this folder holds \
data_batch_1.bin ... data_batch_5.bin and test_batch.bin";

/// Pixels (`n * 3072`) and labels (`n`) of the given files, in order.
pub fn load(dir: &Path, files: &[&str]) -> Result<(Vec<u8>, Vec<u8>), DataError> {
    if !dir.is_dir() {
        return Err(DataError::Missing {
            path: dir.to_path_buf(),
            help: WHERE.into(),
        });
    }
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for name in files {
        let path = dir.join(name);
        if !path.is_file() {
            return Err(DataError::Missing {
                path,
                help: WHERE.into(),
            });
        }
        let bytes = std::fs::read(&path).map_err(|e| DataError::io(&path, e))?;
        if bytes.is_empty() || bytes.len() % RECORD != 0 {
            return Err(DataError::format(
                &path,
                format!(
                    "truncated: {} bytes is not a whole number of {RECORD}-byte records (record {} is cut short)",
                    bytes.len(),
                    bytes.len() / RECORD + 1
                ),
            ));
        }
        for (i, rec) in bytes.chunks_exact(RECORD).enumerate() {
            if rec[0] > 9 {
                return Err(DataError::format(
                    &path,
                    format!("label {} of record {i} is outside the 10 classes", rec[0]),
                ));
            }
            labels.push(rec[0]);
            pixels.extend_from_slice(&rec[1..]);
        }
    }
    Ok((pixels, labels))
}
