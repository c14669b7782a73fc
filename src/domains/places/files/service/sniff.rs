//! What an upload is, from its bytes: the content type comes from the magic bytes (`infer`),
//! never from what the client declared, and must be one its kind allows and agree with the
//! extension of its name. Plain text has no magic bytes: it is recognised by its extension
//! and must decode as UTF-8 without NUL bytes.

use super::super::types::FileKind;
use crate::error::{AppError, AppResult};

/// The field every verdict here is about.
const FIELD: &str = "input.file";

/// Bytes of the upload's start that are sniffed (enough for the ZIP-based Office formats,
/// whose part names sit in the first local headers).
pub const HEAD_BYTES: usize = 64 * 1024;

const MIB: u64 = 1024 * 1024;

/// Sniffed types refused for every kind: programs and scripts.
const EXECUTABLES: &[&str] = &[
    "exe", "dll", "elf", "mach", "class", "dex", "dey", "wasm", "bc", "obj", "sh",
];

/// Largest file of each kind.
pub fn max_bytes(kind: FileKind) -> u64 {
    match kind {
        FileKind::Avatar | FileKind::Logo => 5 * MIB,
        FileKind::Attachment => 25 * MIB,
        FileKind::Import | FileKind::Other => 50 * MIB,
    }
}

/// Sniffed types (by `infer`'s extension) each kind allows; `None` = any that is not refused
/// everywhere.
fn allowed(kind: FileKind) -> Option<&'static [&'static str]> {
    match kind {
        FileKind::Avatar | FileKind::Logo => Some(&["png", "jpg", "gif", "webp"]),
        FileKind::Import => Some(&["xlsx"]),
        FileKind::Attachment => Some(&[
            "png", "jpg", "gif", "webp", "pdf", "docx", "xlsx", "pptx", "odt", "ods", "odp", "zip",
            "rtf",
        ]),
        FileKind::Other => None,
    }
}

/// Text extensions each kind allows, with their content type.
fn text_types(kind: FileKind) -> &'static [(&'static str, &'static str)] {
    const TEXT: &[(&str, &str)] = &[
        ("csv", "text/csv"),
        ("tsv", "text/tab-separated-values"),
        ("json", "application/json"),
        ("txt", "text/plain"),
        ("md", "text/markdown"),
    ];
    match kind {
        FileKind::Avatar | FileKind::Logo => &[],
        FileKind::Import | FileKind::Attachment | FileKind::Other => TEXT,
    }
}

/// Extensions that name each sniffed type (`infer` gives one; names use others too).
fn extension_matches(sniffed: &str, ext: &str) -> bool {
    let aliases: &[&str] = match sniffed {
        "jpg" => &["jpg", "jpeg", "jpe", "jfif"],
        "tif" => &["tif", "tiff"],
        "html" => &["html", "htm"],
        "gz" => &["gz", "tgz"],
        _ => &[],
    };
    ext == sniffed || aliases.contains(&ext)
}

/// The lower-cased extension of `name` (after the last dot), if any.
pub fn extension(name: &str) -> Option<String> {
    let (stem, ext) = name.rsplit_once('.')?;
    (!stem.is_empty() && !ext.is_empty()).then(|| ext.to_ascii_lowercase())
}

/// The content type of an upload named `name` starting with `head`, or BAD_USER_INPUT on
/// `input.file` saying why it is refused.
pub fn content_type(kind: FileKind, name: &str, head: &[u8]) -> AppResult<String> {
    let ext = extension(name);
    let Some(t) = infer::get(head) else {
        return text(kind, ext.as_deref(), head);
    };
    let found = t.extension();
    if EXECUTABLES.contains(&found) {
        return Err(AppError::invalid(
            FIELD,
            format!(
                "is an executable ({}); executables are not accepted",
                t.mime_type()
            ),
        ));
    }
    if let Some(list) = allowed(kind) {
        if !list.contains(&found) {
            return Err(AppError::invalid(
                FIELD,
                format!(
                    "is {} ({found}), which a {} file may not be (allowed: {})",
                    t.mime_type(),
                    kind.as_str(),
                    allowed_list(kind)
                ),
            ));
        }
    }
    match ext {
        Some(e) if extension_matches(found, &e) => Ok(t.mime_type().to_string()),
        Some(e) => Err(AppError::invalid(
            FIELD,
            format!("content is {found} but the name ends in .{e}"),
        )),
        None => Err(AppError::invalid(
            FIELD,
            format!("name has no extension (the content is {found})"),
        )),
    }
}

/// Content without magic bytes: a text type by extension, valid UTF-8, no NUL.
fn text(kind: FileKind, ext: Option<&str>, head: &[u8]) -> AppResult<String> {
    let texts = text_types(kind);
    let by_ext = ext.and_then(|e| texts.iter().find(|(x, _)| *x == e));
    let is_text = !head.contains(&0)
        && match std::str::from_utf8(head) {
            Ok(_) => true,
            // A character cut at the end of the sniffed head is fine.
            Err(e) => e.error_len().is_none(),
        };
    match (by_ext, is_text) {
        (Some((_, ct)), true) => Ok((*ct).to_string()),
        (Some((e, _)), false) => Err(AppError::invalid(
            FIELD,
            format!("name ends in .{e} but the content is not UTF-8 text"),
        )),
        (None, true) if kind == FileKind::Other && ext.is_some() => Ok("text/plain".into()),
        (None, false) if kind == FileKind::Other && ext.is_some() => {
            Ok("application/octet-stream".into())
        }
        (None, _) => Err(AppError::invalid(
            FIELD,
            format!(
                "type not recognised; a {} file may be: {}",
                kind.as_str(),
                allowed_list(kind)
            ),
        )),
    }
}

fn allowed_list(kind: FileKind) -> String {
    let mut all: Vec<&str> = allowed(kind).unwrap_or(&["any but executables"]).to_vec();
    all.extend(text_types(kind).iter().map(|(e, _)| *e));
    all.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";
    const EXE: &[u8] = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0";
    const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n";

    fn refused(r: AppResult<String>) -> String {
        match r {
            Err(AppError::BadUserInput { fields, .. }) => {
                assert_eq!(fields[0].field, "input.file");
                fields[0].message.clone()
            }
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn the_bytes_decide_and_must_agree_with_the_name() {
        use FileKind::*;
        assert_eq!(content_type(Avatar, "me.png", PNG).unwrap(), "image/png");
        assert_eq!(
            content_type(Attachment, "a.PDF", PDF).unwrap(),
            "application/pdf"
        );
        let m = refused(content_type(Attachment, "report.pdf", PNG));
        assert!(
            m.contains("content is png but the name ends in .pdf"),
            "{m}"
        );
        let m = refused(content_type(Avatar, "me.png", EXE));
        assert!(m.contains("executable"), "{m}");
        refused(content_type(Other, "tool.exe", EXE));
        let m = refused(content_type(Avatar, "doc.pdf", PDF));
        assert!(m.contains("AVATAR"), "{m}");
        refused(content_type(Avatar, "me", PNG));
    }

    #[test]
    fn text_is_known_by_extension_and_must_be_utf8() {
        use FileKind::*;
        let csv = "name,email\nZoë,z@example.com\n".as_bytes();
        assert_eq!(content_type(Import, "leads.csv", csv).unwrap(), "text/csv");
        // A multi-byte character cut by the sniffed head is still text.
        assert_eq!(
            content_type(Import, "leads.csv", &csv[..14]).unwrap(),
            "text/csv"
        );
        refused(content_type(Import, "leads.csv", b"a\0b"));
        refused(content_type(Avatar, "me.txt", b"hello"));
        refused(content_type(Import, "leads.dat", b"hello"));
        assert_eq!(
            content_type(Other, "blob.bin", b"\x01\x02\xff\xfe").unwrap(),
            "application/octet-stream"
        );
    }

    #[test]
    fn extensions_are_lower_cased_and_need_a_stem() {
        assert_eq!(extension("A.JPEG").as_deref(), Some("jpeg"));
        assert_eq!(extension(".bashrc"), None);
        assert_eq!(extension("noext"), None);
        assert!(extension_matches("jpg", "jpeg"));
        assert!(!extension_matches("png", "pdf"));
    }
}
