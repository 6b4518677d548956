//! Multipart forms with files, and serving stored files back to those allowed to see them.

use std::collections::HashMap;

use axum::{
    extract::Multipart,
    http::header,
    response::{IntoResponse, Response},
};

use super::{
    checks::FileKind,
    data::{FileRef, Uploads},
};

/// A file as uploaded, before it is checked.
pub struct Part {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// A submitted multipart form: text fields and files, by field name.
#[derive(Default)]
pub struct Submitted {
    pub fields: HashMap<String, String>,
    pub files: HashMap<String, Vec<Part>>,
    /// Fields whose file was over the size limit.
    pub too_large: Vec<String>,
}

impl Submitted {
    pub fn field(&self, name: &str) -> &str {
        self.fields.get(name).map(|s| s.trim()).unwrap_or("")
    }

    /// The files of a field that were actually chosen (a browser sends an empty part for an
    /// empty file input).
    pub fn files(&self, name: &str) -> &[Part] {
        self.files.get(name).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// Reads a multipart form; files over `max_file` bytes are dropped and named in `too_large`.
pub async fn read(mut form: Multipart, max_file: usize) -> Result<Submitted, String> {
    let mut out = Submitted::default();
    while let Some(mut field) = form.next_field().await.map_err(|e| e.body_text())? {
        let name = field.name().unwrap_or_default().to_owned();
        match field.file_name().map(str::to_owned) {
            Some(file_name) => {
                let mut bytes = Vec::new();
                let mut over = false;
                while let Some(chunk) = field.chunk().await.map_err(|e| e.body_text())? {
                    if bytes.len() + chunk.len() > max_file {
                        over = true;
                    } else {
                        bytes.extend_from_slice(&chunk);
                    }
                }
                if over {
                    out.too_large.push(name);
                } else if !(file_name.is_empty() && bytes.is_empty()) {
                    let name_only = file_name.rsplit(['/', '\\']).next().unwrap_or("").to_owned();
                    out.files.entry(name).or_default().push(Part { name: name_only, bytes });
                }
            }
            None => {
                let text = field.text().await.map_err(|e| e.body_text())?;
                out.fields.insert(name, text);
            }
        }
    }
    Ok(out)
}

/// Checks a file's content against the kinds a field takes and stores it.
pub fn keep(
    uploads: &Uploads,
    part: &Part,
    allowed: &[FileKind],
) -> Result<FileRef, Option<String>> {
    let kind = FileKind::sniff(&part.bytes).filter(|k| allowed.contains(k)).ok_or(None)?;
    let sha256 = uploads.store(&part.bytes).map_err(|e| Some(e.to_string()))?;
    let name: String = part.name.chars().filter(|c| !c.is_control()).take(120).collect();
    Ok(FileRef { sha256, name, mime: kind.mime().into(), size: part.bytes.len() as u64 })
}

/// A stored file as a download: never rendered inline, never sniffed by the browser.
pub fn serve(uploads: &Uploads, file: &FileRef) -> Response {
    match uploads.read(&file.sha256) {
        Ok(Some(bytes)) => {
            let ascii: String = file
                .name
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() || ".-_".contains(c) { c } else { '_' })
                .collect();
            (
                [
                    (header::CONTENT_TYPE, file.mime.clone()),
                    (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{ascii}\"")),
                    (header::X_CONTENT_TYPE_OPTIONS, "nosniff".into()),
                ],
                bytes,
            )
                .into_response()
        }
        _ => axum::http::StatusCode::NOT_FOUND.into_response(),
    }
}
