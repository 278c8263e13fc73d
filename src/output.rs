//! Run files are written to a temporary name, synced, checked, and only
//! then renamed into place, so a reader (the bank's transfer agent, a
//! practitioner's portal) never sees half a file. Their SHA-256 is computed
//! on the way out, not by reading them back.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Suffix of files not yet published. Anything with it is a leftover of an
/// interrupted run and is removed when the run is resumed.
pub const PARTIAL_SUFFIX: &str = ".partial";

/// Bank files and health-related returns: owner read/write, group read.
#[cfg(unix)]
const FILE_MODE: u32 = 0o640;

#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct OutputError {
    pub path: String,
    pub source: io::Error,
}

fn err(path: &Path) -> impl FnOnce(io::Error) -> OutputError + '_ {
    move |source| OutputError {
        path: path.display().to_string(),
        source,
    }
}

/// A `Write` that hashes and counts what goes through it.
pub struct HashingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// What a run file is written through.
pub type FileWriter = HashingWriter<BufWriter<File>>;

/// Where a file being written will go.
pub struct FileTarget {
    /// Path relative to the run folder, with `/` separators (manifest form).
    pub rel_path: String,
    tmp_path: PathBuf,
}

/// A complete file still under its temporary name. Kept small: a national
/// day stages ~870,000 files and holds them all until it publishes (the
/// final path is derived, the hash kept as bytes).
#[derive(Debug)]
pub struct StagedFile {
    pub rel_path: String,
    pub bytes: u64,
    sha256: [u8; 32],
    tmp_path: PathBuf,
}

/// Creates `rel_path` under `run_dir`, under its temporary name.
pub fn create(run_dir: &Path, rel_path: &str) -> Result<(FileTarget, FileWriter), OutputError> {
    let (target, file) = open_partial(run_dir, rel_path)?;
    let writer = HashingWriter {
        inner: BufWriter::with_capacity(1 << 16, file),
        hasher: Sha256::new(),
        bytes: 0,
    };
    Ok((target, writer))
}

/// Writes a file built in memory under its temporary name, in one `write`
/// and without a buffer of its own: for small files built by one thread
/// and written by another (RSP returns, statements).
pub fn write_whole(
    run_dir: &Path,
    rel_path: &str,
    bytes: &[u8],
) -> Result<StagedFile, OutputError> {
    let (target, mut file) = open_partial(run_dir, rel_path)?;
    file.write_all(bytes).map_err(err(&target.tmp_path))?;
    drop(file);
    crash_point!("output.after_write");
    Ok(StagedFile {
        rel_path: target.rel_path,
        sha256: Sha256::digest(bytes).into(),
        bytes: bytes.len() as u64,
        tmp_path: target.tmp_path,
    })
}

fn open_partial(run_dir: &Path, rel_path: &str) -> Result<(FileTarget, File), OutputError> {
    let final_path = run_dir.join(rel_path);
    let tmp_path = PathBuf::from(format!("{}{PARTIAL_SUFFIX}", final_path.display()));
    let mut opts = OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, FILE_MODE);
    // The folder is made when its first file finds it missing, not asked
    // for before every file: two system calls fewer a file (a `mkdir` that
    // fails, a `stat`), on the ~87,000 files of a national day.
    let file = match opts.open(&tmp_path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(dir) = final_path.parent() {
                fs::create_dir_all(dir).map_err(err(dir))?;
            }
            opts.open(&tmp_path)
        }
        opened => opened,
    }
    .map_err(err(&tmp_path))?;
    let target = FileTarget {
        rel_path: rel_path.to_owned(),
        tmp_path,
    };
    Ok((target, file))
}

impl FileTarget {
    /// Flushes the file (durability comes from [`sync_dir`] over the batch:
    /// one `syncfs` instead of one fsync per file, which for 60,000 RSP
    /// files is the difference between a second and minutes).
    pub fn seal(self, writer: FileWriter) -> Result<StagedFile, OutputError> {
        let HashingWriter {
            inner,
            hasher,
            bytes,
        } = writer;
        inner.into_inner().map_err(|e| OutputError {
            path: self.tmp_path.display().to_string(),
            source: e.into_error(),
        })?;
        crash_point!("output.after_write");
        Ok(StagedFile {
            rel_path: self.rel_path,
            sha256: hasher.finalize().into(),
            bytes,
            tmp_path: self.tmp_path,
        })
    }
}

impl StagedFile {
    /// SHA-256 of the file's bytes, in lower-case hex (manifest form).
    pub fn sha256(&self) -> String {
        hex::encode(self.sha256)
    }

    /// Where [`StagedFile::publish`] puts it: beside the temporary file,
    /// under the name `rel_path` ends with.
    pub fn final_path(&self) -> PathBuf {
        let name = Path::new(&self.rel_path).file_name().unwrap_or_default();
        self.tmp_path.with_file_name(name)
    }

    /// Renames the file into place. Call [`sync_dir`] before (contents) and
    /// after (renames) publishing a batch.
    pub fn publish(&self) -> Result<(), OutputError> {
        let final_path = self.final_path();
        fs::rename(&self.tmp_path, &final_path).map_err(err(&final_path))?;
        crash_point!("output.after_publish");
        Ok(())
    }

    /// Removes the temporary file of a run that was aborted before publishing.
    pub fn discard(self) {
        let _ = fs::remove_file(&self.tmp_path);
    }
}

/// Makes everything written under `dir` durable: file contents, and the
/// directory entries (renames) with them.
pub fn sync_dir(dir: &Path) -> Result<(), OutputError> {
    let d = File::open(dir).map_err(err(dir))?;
    rustix::fs::syncfs(&d).map_err(|e| OutputError {
        path: dir.display().to_string(),
        source: e.into(),
    })
}

/// Removes `*.partial` leftovers under `dir` (an interrupted earlier attempt).
pub fn remove_partials(dir: &Path) -> Result<usize, OutputError> {
    let mut removed = 0;
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(0);
    };
    for entry in entries {
        let path = entry.map_err(err(dir))?.path();
        if path.is_dir() {
            removed += remove_partials(&path)?;
        } else if path.to_string_lossy().ends_with(PARTIAL_SUFFIX) {
            fs::remove_file(&path).map_err(err(&path))?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_then_published_with_hash() {
        let dir = tempfile::tempdir().unwrap();
        let (target, mut w) = create(dir.path(), "sub/a.txt").unwrap();
        w.write_all(b"abc").unwrap();
        let staged = target.seal(w).unwrap();
        sync_dir(dir.path()).unwrap();
        assert!(
            !dir.path().join("sub/a.txt").exists(),
            "not visible before publish"
        );
        assert_eq!(
            staged.sha256(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(staged.final_path(), dir.path().join("sub/a.txt"));
        staged.publish().unwrap();
        assert_eq!(fs::read(dir.path().join("sub/a.txt")).unwrap(), b"abc");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join("sub/a.txt"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777 & !0o022, 0o640 & !0o022);
        }
    }

    #[test]
    fn a_whole_file_is_staged_like_a_streamed_one() {
        let dir = tempfile::tempdir().unwrap();
        let (target, mut w) = create(dir.path(), "streamed/a.txt").unwrap();
        w.write_all(b"abc").unwrap();
        let streamed = target.seal(w).unwrap();
        let whole = write_whole(dir.path(), "whole/a.txt", b"abc").unwrap();
        assert_eq!((whole.sha256(), whole.bytes), (streamed.sha256(), 3));
        assert!(
            !dir.path().join("whole/a.txt").exists(),
            "not visible before publish"
        );
        whole.publish().unwrap();
        assert_eq!(fs::read(dir.path().join("whole/a.txt")).unwrap(), b"abc");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join("whole/a.txt"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777 & !0o022, 0o640 & !0o022);
        }
    }

    #[test]
    fn partials_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let f = create(dir.path(), "rsp/x.rsp").unwrap();
        drop(f);
        assert_eq!(remove_partials(dir.path()).unwrap(), 1);
        assert_eq!(remove_partials(dir.path()).unwrap(), 0);
    }
}
