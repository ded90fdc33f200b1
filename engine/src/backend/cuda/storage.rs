//! Device memory: uploads, downloads and the elementwise arithmetic the
//! tape and the layers ask of any backend.

use std::sync::Arc;

use super::{driver_error, elements, int, launch, Cuda, DevBuf, BLOCK};
use crate::backend::{Result, Storage};

impl Storage for Cuda {
    type Buf = DevBuf;

    const DEVICE: &'static str = "cuda";

    fn describe(&self) -> String {
        self.label.clone()
    }

    fn upload(&self, data: Vec<f32>) -> Result<DevBuf> {
        self.upload_slice(&data)
    }

    fn upload_slice(&self, data: &[f32]) -> Result<DevBuf> {
        let len = data.len();
        let started = self.profile.start(&self.stream);
        let data = Arc::new(self.upload_typed(data)?);
        self.profile.stop("upload", started, &self.stream);
        Ok(DevBuf { data, len })
    }

    fn download(&self, b: &DevBuf) -> Result<Vec<f32>> {
        let started = self.profile.start(&self.stream);
        let host = self.download_typed(b.slice(), b.len);
        self.profile.stop("download", started, &self.stream);
        host
    }

    fn zeros(&self, len: usize) -> Result<DevBuf> {
        self.zeroed(len)
    }

    fn len(&self, b: &DevBuf) -> usize {
        b.len
    }

    fn write(&self, b: &mut DevBuf, data: &[f32]) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let dst = self.writable(b)?;
        self.stream
            .memcpy_htod(data, dst)
            .map_err(|e| driver_error("uploading", e))
    }

    fn add_assign(&self, into: &mut DevBuf, g: &DevBuf) -> Result<()> {
        let n = int(into.len);
        let into = self.writable(into)?;
        launch!(
            self,
            "add_assign",
            elements(n as usize),
            into,
            g.slice(),
            &n
        )
    }

    fn add(&self, a: &DevBuf, b: &DevBuf) -> Result<DevBuf> {
        let mut out = self.alloc(a.len)?;
        let n = int(a.len);
        let o = self.writable(&mut out)?;
        launch!(self, "add", elements(a.len), a.slice(), b.slice(), o, &n)?;
        Ok(out)
    }

    fn mul(&self, a: &DevBuf, b: &DevBuf) -> Result<DevBuf> {
        let mut out = self.alloc(a.len)?;
        let n = int(a.len);
        let o = self.writable(&mut out)?;
        launch!(self, "mul", elements(a.len), a.slice(), b.slice(), o, &n)?;
        Ok(out)
    }

    fn scale(&self, a: &mut DevBuf, by: f32) -> Result<()> {
        let n = int(a.len);
        let a = self.writable(a)?;
        launch!(self, "scale", elements(n as usize), a, &by, &n)
    }

    fn sum_of_squares(&self, a: &DevBuf) -> Result<f64> {
        let cfg = elements(a.len);
        let blocks = cfg.grid_dim.0 as usize;
        debug_assert_eq!(cfg.block_dim.0, BLOCK);
        let mut partial = self
            .stream
            .alloc_zeros::<f64>(blocks)
            .map_err(|e| driver_error("allocating", e))?;
        let n = int(a.len);
        launch!(self, "sum_squares", cfg, a.slice(), &n, &mut partial)?;
        Ok(self.download_typed(&partial, blocks)?.iter().sum())
    }
}
