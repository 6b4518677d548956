//! The data directory's free space. Below the configured floor the gateway refuses new
//! deposits and operator actions with 20001 (nothing stored, safe to retry) and keeps serving
//! reads, so that RocksDB never meets a full disk in the middle of a block; it takes calls
//! again as soon as space returns.

use std::{
    path::PathBuf,
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
};

use cunzheng_types::unix_now_ms;
use tracing::warn;

use crate::error::ApiError;

/// How often the free space is read, at most.
const CHECK_EVERY_MS: u64 = 500;

pub struct DiskGuard {
    dir: Option<PathBuf>,
    floor: u64,
    checked_at_ms: AtomicU64,
    low: AtomicBool,
}

impl DiskGuard {
    pub fn new(dir: Option<PathBuf>, floor: u64) -> Self {
        DiskGuard { dir, floor, checked_at_ms: AtomicU64::new(0), low: AtomicBool::new(false) }
    }

    /// 20001 while the data directory's free space is under the floor.
    pub fn check(&self) -> Result<(), ApiError> {
        let Some(dir) = &self.dir else { return Ok(()) };
        let now = unix_now_ms();
        let last = self.checked_at_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= CHECK_EVERY_MS
            && self
                .checked_at_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let low = match free_bytes(dir) {
                Ok(free) => free < self.floor,
                Err(e) => {
                    warn!(target: "gateway", dir = %dir.display(), error = %e, "free space unknown");
                    false
                }
            };
            if low != self.low.swap(low, Ordering::Relaxed) {
                match low {
                    true => {
                        warn!(target: "gateway", floor = self.floor, "data directory nearly full: refusing deposits")
                    }
                    false => {
                        warn!(target: "gateway", "data directory has space again: taking deposits")
                    }
                }
            }
        }
        if self.low.load(Ordering::Relaxed) {
            return Err(ApiError::Unavailable(format!(
                "the data directory has less than {} MiB free",
                self.floor >> 20
            )));
        }
        Ok(())
    }
}

/// Bytes an unprivileged writer may still use on the file system holding `dir`.
fn free_bytes(dir: &std::path::Path) -> nix::Result<u64> {
    let s = nix::sys::statvfs::statvfs(dir)?;
    Ok(s.blocks_available() as u64 * s.fragment_size() as u64)
}
