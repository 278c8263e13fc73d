//! Run files are written under a temporary name, synced, checked, and only
//! then renamed into place, so a reader (the bank's transfer agent, a
//! practitioner's portal) never sees half a file. A file of a folder is
//! written into a staging folder beside it (`rsp/X.rsp` into
//! `rsp.partial/X.rsp`), which becomes the folder in one rename; a file at
//! the top of the run folder is written beside itself (`manifest.json.partial`).
//! Their SHA-256 is computed on the way out, not by reading them back.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Suffix of files and staging folders not yet published. Anything with it
/// is a leftover of an interrupted run and is removed when the run is
/// resumed.
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
/// day stages ~87,000 files and holds them all until it publishes (the
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

/// Where `rel_path` is written until it is published.
fn staging_path(run_dir: &Path, rel_path: &str) -> PathBuf {
    match rel_path.split_once('/') {
        Some((folder, rest)) => staging_folder(run_dir, folder).join(rest),
        None => run_dir.join(format!("{rel_path}{PARTIAL_SUFFIX}")),
    }
}

/// The one place that names a staging folder: `folder` is staged in
/// `folder.partial/` beside it ([`publish_folder`] strips the suffix).
fn staging_folder(run_dir: &Path, folder: &str) -> PathBuf {
    run_dir.join(format!("{folder}{PARTIAL_SUFFIX}"))
}

fn open_partial(run_dir: &Path, rel_path: &str) -> Result<(FileTarget, File), OutputError> {
    let tmp_path = staging_path(run_dir, rel_path);
    let mut opts = OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, FILE_MODE);
    // The folder is made when its first file finds it missing, not asked
    // for before every file: two system calls fewer a file (a `mkdir` that
    // fails, a `stat`), on the ~87,000 files of a national day.
    let file = match opts.open(&tmp_path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            make_folders(run_dir, rel_path, &tmp_path)?;
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

/// Makes the staging folder of `tmp_path` and, for a file of a folder, that
/// folder too, empty until published (a rename replaces an empty folder):
/// whatever is in its way (a file, a folder not ours) fails the write, before
/// anything of the run is published, not the publication half-way.
fn make_folders(run_dir: &Path, rel_path: &str, tmp_path: &Path) -> Result<(), OutputError> {
    if let Some((folder, _)) = rel_path.split_once('/') {
        let folder = run_dir.join(folder);
        fs::create_dir_all(&folder).map_err(err(&folder))?;
    }
    match tmp_path.parent() {
        Some(dir) => fs::create_dir_all(dir).map_err(err(dir)),
        None => Ok(()),
    }
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

    /// Where publishing puts it: `rel_path` under the run folder.
    pub fn final_path(&self) -> PathBuf {
        self.run_dir().join(&self.rel_path)
    }

    /// The run folder, `rel_path`'s depth above the temporary file (both
    /// staging forms keep that depth).
    fn run_dir(&self) -> &Path {
        let depth = Path::new(&self.rel_path).components().count();
        self.tmp_path
            .ancestors()
            .nth(depth)
            .unwrap_or(Path::new(""))
    }

    /// The staging folder the file is published with, if it is in one.
    fn staging_folder(&self) -> Option<PathBuf> {
        let (folder, _) = self.rel_path.split_once('/')?;
        Some(staging_folder(self.run_dir(), folder))
    }

    /// Renames this one file into place. Call [`sync_dir`] before (contents)
    /// and after (renames) publishing a batch.
    ///
    /// The folder it goes into exists: the run folder, or a folder made
    /// at its first write ([`make_folders`]).
    pub fn publish(&self) -> Result<(), OutputError> {
        let final_path = self.final_path();
        fs::rename(&self.tmp_path, &final_path).map_err(err(&final_path))?;
        crash_point!("output.after_publish");
        Ok(())
    }

    /// Removes the temporary file of a run that was aborted before
    /// publishing, and its staging folder once empty.
    pub fn discard(self) {
        let _ = fs::remove_file(&self.tmp_path);
        if let Some(folder) = self.staging_folder() {
            let _ = fs::remove_dir(folder);
        }
    }
}

/// Publishes a batch of staged files: each staging folder becomes its
/// folder in one rename (a national day's ~56,000 RSP files: one system
/// call instead of 56,000 renames in a large directory, ~3 s on ext4),
/// unless that folder already exists (a resumed run rewriting its files),
/// whose files are then renamed into it one by one, replacing the old ones.
/// Call [`sync_dir`] before (contents) and after (renames).
pub fn publish_all(files: &[StagedFile]) -> Result<(), OutputError> {
    let mut folders: Vec<PathBuf> = Vec::new();
    for f in files {
        match f.staging_folder() {
            None => f.publish()?,
            Some(folder) if !folders.contains(&folder) => folders.push(folder),
            Some(_) => {}
        }
    }
    for staging in folders {
        let in_folder = files
            .iter()
            .filter(|f| f.staging_folder().as_ref() == Some(&staging));
        publish_folder(&staging, in_folder)?;
    }
    Ok(())
}

fn publish_folder<'a>(
    staging: &Path,
    files: impl Iterator<Item = &'a StagedFile>,
) -> Result<(), OutputError> {
    let folder = staging.with_extension("");
    debug_assert_eq!(
        staging.extension().and_then(|e| e.to_str()),
        PARTIAL_SUFFIX.strip_prefix('.')
    );
    match fs::rename(staging, &folder) {
        Ok(()) => {
            crash_point!("output.after_publish");
            Ok(())
        }
        // A non-empty folder is never replaced: it is there because the
        // run is being resumed, and its files are replaced one by one.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::DirectoryNotEmpty | io::ErrorKind::AlreadyExists
            ) =>
        {
            for f in files {
                f.publish()?;
            }
            fs::remove_dir(staging).map_err(err(staging))
        }
        Err(e) => Err(err(&folder)(e)),
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

/// Removes `*.partial` leftovers under `dir` (an interrupted earlier
/// attempt): files, and staging folders with what they hold. Returns how
/// many files went.
pub fn remove_partials(dir: &Path) -> Result<usize, OutputError> {
    let mut removed = 0;
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(0);
    };
    for entry in entries {
        let path = entry.map_err(err(dir))?.path();
        let partial = path.to_string_lossy().ends_with(PARTIAL_SUFFIX);
        if path.is_dir() && partial {
            removed += fs::read_dir(&path).map_err(err(&path))?.count();
            fs::remove_dir_all(&path).map_err(err(&path))?;
        } else if path.is_dir() {
            removed += remove_partials(&path)?;
        } else if partial {
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

    /// A folder's files appear together, in one rename of their staging
    /// folder; a file at the top is renamed alone.
    #[test]
    fn a_batch_publishes_each_folder_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let staged = ["rsp/1.rsp", "sepa/r.xml", "rsp/2.rsp", "manifest.json"]
            .map(|p| write_whole(dir.path(), p, p.as_bytes()).unwrap());
        assert!(dir.path().join("rsp.partial/1.rsp").exists());
        assert!(dir.path().join("manifest.json.partial").exists());
        assert_eq!(
            fs::read_dir(dir.path().join("rsp")).unwrap().count(),
            0,
            "the folder is made empty, its files visible only once published"
        );
        publish_all(&staged).unwrap();
        for f in &staged {
            assert_eq!(fs::read(f.final_path()).unwrap(), f.rel_path.as_bytes());
        }
        assert_eq!(
            dir.path().join("rsp/2.rsp"),
            staged[2].final_path(),
            "the final path is the run folder's"
        );
        assert_eq!(
            remove_partials(dir.path()).unwrap(),
            0,
            "nothing staged left"
        );
    }

    /// A resumed run finds its folders already published: it replaces their
    /// files one by one and keeps the others.
    #[test]
    fn a_batch_into_published_folders_replaces_file_by_file() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("rsp")).unwrap();
        fs::write(dir.path().join("rsp/1.rsp"), "old").unwrap();
        fs::write(dir.path().join("rsp/9.rsp"), "other").unwrap();
        let staged =
            ["rsp/1.rsp", "rsp/2.rsp"].map(|p| write_whole(dir.path(), p, p.as_bytes()).unwrap());
        publish_all(&staged).unwrap();
        assert_eq!(
            fs::read(dir.path().join("rsp/1.rsp")).unwrap(),
            b"rsp/1.rsp"
        );
        assert_eq!(
            fs::read(dir.path().join("rsp/2.rsp")).unwrap(),
            b"rsp/2.rsp"
        );
        assert_eq!(fs::read(dir.path().join("rsp/9.rsp")).unwrap(), b"other");
        assert!(!dir.path().join("rsp.partial").exists());
    }

    /// Something in a folder's way fails the write of its first file, not
    /// its publication after other folders have been published.
    #[test]
    fn a_file_in_a_folders_way_fails_the_write() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("rsp"), "in the way").unwrap();
        let e = write_whole(dir.path(), "rsp/1.rsp", b"1").unwrap_err();
        assert!(e.path.ends_with("rsp"), "{e}");
    }

    #[test]
    fn partials_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let f = create(dir.path(), "rsp/x.rsp").unwrap();
        drop(f);
        write_whole(dir.path(), "rsp/y.rsp", b"y").unwrap();
        write_whole(dir.path(), "manifest.json", b"{}").unwrap();
        // A temporary file beside its final name (how files were staged
        // before staging folders): an older binary's leftover.
        fs::create_dir_all(dir.path().join("sepa")).unwrap();
        fs::write(dir.path().join("sepa/r.xml.partial"), "half").unwrap();
        assert_eq!(remove_partials(dir.path()).unwrap(), 4);
        assert_eq!(remove_partials(dir.path()).unwrap(), 0);
        assert!(!dir.path().join("rsp.partial").exists());
        assert!(dir.path().join("sepa").exists(), "a published folder stays");
    }

    #[test]
    fn a_discarded_file_takes_its_empty_staging_folder() {
        let dir = tempfile::tempdir().unwrap();
        let a = write_whole(dir.path(), "rsp/a.rsp", b"a").unwrap();
        let b = write_whole(dir.path(), "rsp/b.rsp", b"b").unwrap();
        a.discard();
        assert!(dir.path().join("rsp.partial/b.rsp").exists());
        b.discard();
        assert!(!dir.path().join("rsp.partial").exists());
    }
}
