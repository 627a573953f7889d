//! What an identity document may be: PNG, JPEG or PDF (the types a payout
//! provider accepts for identity documents), by its declared Content-Type
//! *and* by its bytes (magic numbers, via `infer`), which must agree.
use super::DocumentError;

/// Whether bytes start like a given type.
type MagicCheck = fn(&[u8]) -> bool;

/// Each accepted type and the check of its magic number.
const ACCEPTED: [(&str, MagicCheck); 3] = [
    ("image/png", infer::image::is_png),
    ("image/jpeg", infer::image::is_jpeg),
    ("application/pdf", infer::archive::is_pdf),
];

/// The accepted media type named by a Content-Type header value
/// (parameters and case ignored).
pub fn declared_type(header: Option<&str>) -> Result<&'static str, DocumentError> {
    let declared = header
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    ACCEPTED
        .iter()
        .find(|(name, _)| *name == declared)
        .map(|(name, _)| *name)
        .ok_or(DocumentError::ContentType)
}

/// Checks that the bytes really are what was declared.
pub fn check_bytes(declared: &str, bytes: &[u8]) -> Result<(), DocumentError> {
    let matches = ACCEPTED
        .iter()
        .find(|(name, _)| *name == declared)
        .is_some_and(|(_, is)| is(bytes));
    if matches {
        return Ok(());
    }
    let found = infer::get(bytes).map_or("unknown", |kind| kind.mime_type());
    tracing::info!(
        declared,
        found,
        "identity document refused: content does not match its type"
    );
    Err(DocumentError::ContentMismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    const JPEG: &[u8] = b"\xFF\xD8\xFF\xE0\0\x10JFIF\0";
    const PDF: &[u8] = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n";

    #[test]
    fn only_png_jpeg_and_pdf_are_declared_types() {
        assert_eq!(declared_type(Some("Image/PNG; q=1")).unwrap(), "image/png");
        assert_eq!(declared_type(Some("image/jpeg")).unwrap(), "image/jpeg");
        assert_eq!(
            declared_type(Some("application/pdf")).unwrap(),
            "application/pdf"
        );
        for refused in [
            Some("image/gif"),
            Some("image/webp"),
            Some("text/html"),
            None,
        ] {
            assert!(matches!(
                declared_type(refused),
                Err(DocumentError::ContentType)
            ));
        }
    }

    #[test]
    fn bytes_must_match_the_declared_type() {
        assert!(check_bytes("image/png", PNG).is_ok());
        assert!(check_bytes("image/jpeg", JPEG).is_ok());
        assert!(check_bytes("application/pdf", PDF).is_ok());
        let refused = [
            ("image/png", &[0u8; 10][..]),
            ("image/png", JPEG),
            ("image/jpeg", PDF),
            ("application/pdf", PNG),
            ("image/png", b""),
        ];
        for (declared, bytes) in refused {
            assert!(
                matches!(
                    check_bytes(declared, bytes),
                    Err(DocumentError::ContentMismatch)
                ),
                "{declared}: {bytes:?}"
            );
        }
    }
}
