//! One output CSV: RFC 4180 quoting by the `csv` crate, LF line ends, UTF-8
//! without BOM, buffered, and written under a temporary name then renamed,
//! so a reader never sees a half-written `claims.csv`.

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use super::GenError;

/// Large enough that a million rows cost a few thousand `write` calls.
const BUFFER_BYTES: usize = 1 << 16;

pub(super) struct CsvOut {
    path: PathBuf,
    tmp: PathBuf,
    writer: csv::Writer<BufWriter<File>>,
}

impl CsvOut {
    /// Opens `dir/.name.part` and writes the header row.
    pub(super) fn create(dir: &Path, name: &str, header: &[&str]) -> Result<Self, GenError> {
        let path = dir.join(name);
        let tmp = dir.join(format!(".{name}.part"));
        let file = File::create(&tmp).map_err(|source| GenError::Io {
            path: tmp.clone(),
            source,
        })?;
        let writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .quote_style(csv::QuoteStyle::Necessary)
            .from_writer(BufWriter::with_capacity(BUFFER_BYTES, file));
        let mut out = Self { path, tmp, writer };
        out.row(header)?;
        Ok(out)
    }

    /// Writes one record; every field is text already formatted.
    pub(super) fn row<I, T>(&mut self, fields: I) -> Result<(), GenError>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        self.writer
            .write_record(fields)
            .map_err(|source| GenError::Csv {
                path: self.tmp.clone(),
                source,
            })
    }

    /// Flushes, then renames into place.
    pub(super) fn finish(self) -> Result<(), GenError> {
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| GenError::Io { path, source }
        };
        let buffered = self.writer.into_inner().map_err(|e| GenError::Io {
            path: self.tmp.clone(),
            source: e.into_error(),
        })?;
        buffered
            .into_inner()
            .map_err(|e| e.into_error())
            .map_err(io_err(&self.tmp))?;
        fs::rename(&self.tmp, &self.path).map_err(io_err(&self.path))
    }
}
