//! Writing the report's tables as CSV and Parquet, byte for byte the same
//! for the same database: rows are sorted upstream, floats are rounded to
//! two decimals before writing, and neither format carries a timestamp.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use sha2::{Digest, Sha256};

use super::WrittenFile;
use crate::spreadsheet::defuse;

/// Writes `<stem>.csv` and `<stem>.parquet` under `dir`.
pub fn write_table(
    df: &mut DataFrame,
    dir: &Path,
    stem: &str,
) -> Result<[WrittenFile; 2], super::ReportError> {
    let csv = write_atomically(&dir.join(format!("{stem}.csv")), |w| {
        CsvWriter::new(w)
            .include_header(true)
            .with_float_precision(Some(2))
            .finish(&mut defused(df)?)
            .map_err(super::ReportError::from)
    })?;
    let parquet = write_atomically(&dir.join(format!("{stem}.parquet")), |w| {
        ParquetWriter::new(w)
            .with_compression(ParquetCompression::Zstd(None))
            .finish(df)
            .map(|_| ())
            .map_err(super::ReportError::from)
    })?;
    Ok([csv, parquet])
}

/// `df` with its text cells made inert for a spreadsheet (names and centres
/// come from imported files); the Parquet file keeps the values as they are.
fn defused(df: &DataFrame) -> PolarsResult<DataFrame> {
    let risky = |c: &Column| {
        c.str()
            .is_ok_and(|s| s.iter().flatten().any(|v| defuse(v) != v))
    };
    if !df.columns().iter().any(risky) {
        return Ok(df.clone());
    }
    let columns = df
        .columns()
        .iter()
        .map(|c| match c.str() {
            Ok(s) => s.apply_values(defuse).into_column(),
            Err(_) => c.clone(),
        })
        .collect();
    DataFrame::new(df.height(), columns)
}

/// Writes through `NAME.partial` and renames, so a reader never sees half a
/// file and a failed report leaves the previous one in place.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> Result<(), super::ReportError>,
) -> Result<WrittenFile, super::ReportError> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let io = |source| super::ReportError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut w = BufWriter::new(File::create(&partial).map_err(io)?);
    write(&mut w)?;
    w.flush().map_err(io)?;
    drop(w);
    std::fs::rename(&partial, path).map_err(io)?;
    let bytes = std::fs::read(path).map_err(io)?;
    Ok(WrittenFile {
        path: path.to_owned(),
        sha256: hex::encode(Sha256::digest(&bytes)),
        bytes: bytes.len() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_defused_and_parquet_keeps_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let mut df = df!(
            "name" => ["=cmd|' /C calc'!A0", "Dr Martin"],
            "late" => [-1i64, 2],
        )
        .unwrap();
        write_table(&mut df, dir.path(), "t").unwrap();
        let csv = std::fs::read_to_string(dir.path().join("t.csv")).unwrap();
        assert_eq!(csv, "name,late\n'=cmd|' /C calc'!A0,-1\nDr Martin,2\n");
        let back = ParquetReader::new(File::open(dir.path().join("t.parquet")).unwrap())
            .finish()
            .unwrap();
        assert_eq!(back, df);
    }
}
