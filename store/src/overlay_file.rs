//! A file that a reader opens as a redb database without ever writing it:
//! reads come from the file, and whatever redb writes (its header on open,
//! or a repair after a crash) goes to an overlay in memory that later reads
//! see. It lets a shared reader (`DirState::open_shared`) run redb's
//! integrity check and then read with the memory of what was written, not
//! of the whole file.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::sync::Mutex;

use redb::StorageBackend;

/// At most this many bytes are held as written: redb writes a header and,
/// to repair a file after a crash, its allocator state; far below this.
const MAX_OVERLAY_BYTES: usize = 64 << 20;

/// A file under a copy-on-write overlay in memory.
#[derive(Debug)]
pub(crate) struct OverlayFile {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    file: File,
    /// The file's length when opened: bytes past it read as zero.
    file_len: u64,
    /// The length redb sees.
    len: u64,
    /// Writes, oldest first: a later one wins where they overlap.
    writes: Vec<(u64, Vec<u8>)>,
    written: usize,
}

impl OverlayFile {
    /// `file`, opened for reading, under an empty overlay.
    pub(crate) fn new(file: File) -> std::io::Result<Self> {
        let file_len = file.metadata()?.len();
        Ok(OverlayFile {
            inner: Mutex::new(Inner {
                file,
                file_len,
                len: file_len,
                writes: Vec::new(),
                written: 0,
            }),
        })
    }

    fn lock(&self) -> std::io::Result<std::sync::MutexGuard<'_, Inner>> {
        self.inner
            .lock()
            .map_err(|_| std::io::Error::other("the state file's reader panicked"))
    }
}

fn out_of_range() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "read past the end")
}

impl StorageBackend for OverlayFile {
    fn len(&self) -> Result<u64, std::io::Error> {
        Ok(self.lock()?.len)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        let mut inner = self.lock()?;
        let end = offset
            .checked_add(out.len() as u64)
            .filter(|&end| end <= inner.len)
            .ok_or_else(out_of_range)?;
        // From the file, as far as it reaches; zero past its end.
        let from_file = end.min(inner.file_len).saturating_sub(offset) as usize;
        out[from_file..].fill(0);
        if from_file > 0 {
            inner.file.seek(SeekFrom::Start(offset))?;
            inner.file.read_exact(&mut out[..from_file])?;
        }
        for (at, data) in &inner.writes {
            let (start, stop) = (offset.max(*at), end.min(at + data.len() as u64));
            if start < stop {
                let (src, dst) = ((start - at) as usize, (start - offset) as usize);
                let n = (stop - start) as usize;
                out[dst..dst + n].copy_from_slice(&data[src..src + n]);
            }
        }
        Ok(())
    }

    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        let mut inner = self.lock()?;
        if len < inner.file_len {
            // Bytes cut off and grown again must read as zero.
            inner.file_len = len;
        }
        inner.len = len;
        Ok(())
    }

    fn sync_data(&self) -> Result<(), std::io::Error> {
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        let mut inner = self.lock()?;
        if offset
            .checked_add(data.len() as u64)
            .is_none_or(|end| end > inner.len)
        {
            return Err(out_of_range());
        }
        inner.written += data.len();
        if inner.written > MAX_OVERLAY_BYTES {
            return Err(std::io::Error::other(
                "opening the state for reading would rewrite more than 64 MiB of it; open it \
                 for writing once to repair it",
            ));
        }
        inner.writes.push((offset, data.to_vec()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_see_the_file_then_the_writes_and_the_file_is_never_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, (0..100u8).collect::<Vec<_>>()).unwrap();
        let o = OverlayFile::new(File::open(&path).unwrap()).unwrap();
        let mut out = [0u8; 4];
        o.read(10, &mut out).unwrap();
        assert_eq!(out, [10, 11, 12, 13]);
        o.write(11, &[200, 201]).unwrap();
        o.write(12, &[202]).unwrap();
        o.read(10, &mut out).unwrap();
        assert_eq!(out, [10, 200, 202, 13]);
        // Shrunk then grown: the cut bytes read as zero.
        o.set_len(50).unwrap();
        o.set_len(120).unwrap();
        let mut tail = [9u8; 4];
        o.read(48, &mut tail).unwrap();
        assert_eq!(tail, [48, 49, 0, 0]);
        assert!(o.read(118, &mut tail).is_err(), "past the end");
        assert!(o.write(119, &[1, 2]).is_err(), "past the end");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            (0..100u8).collect::<Vec<_>>()
        );
    }
}
