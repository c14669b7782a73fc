//! Avatars and logos are never stored as uploaded: the bytes are decoded, bounded by
//! [`image::Limits`] (a decompression bomb is refused from its header, before its pixels are
//! allocated), turned upright by their EXIF orientation, resized to the kind's standard sizes
//! and encoded again: a JPEG as JPEG, anything else (PNG, GIF's first frame, WebP) as PNG. The
//! new encoding carries no metadata (EXIF, GPS, comments) and nothing of a polyglot's other
//! payload. The CPU work runs on the blocking pool.
//!
//! Standard sizes: AVATAR 256 × 256 (the file itself) and 64 × 64, centre-cropped squares;
//! LOGO fitted within 512 × 512 (the file) and 128 × 128, never enlarged.

use std::io::Cursor;

use image::{
    codecs::{jpeg::JpegEncoder, png::PngEncoder},
    imageops::FilterType,
    DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits,
};

use super::super::types::FileKind;
use crate::error::{AppError, AppResult};

/// Longest side of an image that is decoded, in pixels.
pub const MAX_SIDE_PX: u32 = 8192;
/// Most memory one decode may allocate.
const MAX_ALLOC_BYTES: u64 = 160 * 1024 * 1024;
/// JPEG quality of the re-encoded images.
const JPEG_QUALITY: u8 = 85;

/// How a standard size is made.
#[derive(Debug, Clone, Copy)]
enum Fit {
    /// A `px` × `px` square, centre-cropped (enlarged when smaller).
    Square,
    /// Within `px` × `px`, aspect kept, never enlarged.
    Within,
}

/// The standard sizes of `kind`, largest (the file itself) first; empty for other kinds.
fn sizes(kind: FileKind) -> &'static [(u32, Fit)] {
    match kind {
        FileKind::Avatar => &[(256, Fit::Square), (64, Fit::Square)],
        FileKind::Logo => &[(512, Fit::Within), (128, Fit::Within)],
        FileKind::Import | FileKind::Attachment | FileKind::Other => &[],
    }
}

/// Whether uploads of `kind` are processed here.
pub fn is_image(kind: FileKind) -> bool {
    !sizes(kind).is_empty()
}

/// One re-encoded size of an image.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// The standard size it was made for.
    pub size_px: u32,
    /// Its pixels.
    pub width: u32,
    /// Its pixels.
    pub height: u32,
    /// `image/jpeg` or `image/png`.
    pub content_type: &'static str,
    /// `jpg` or `png`.
    pub extension: &'static str,
    /// The encoded bytes.
    pub bytes: Vec<u8>,
}

fn refused(message: impl Into<String>) -> AppError {
    AppError::invalid("input.file", message)
}

fn decode_error(e: ImageError) -> AppError {
    match e {
        ImageError::Limits(_) => refused(format!(
            "is too large to decode (at most {MAX_SIDE_PX} × {MAX_SIDE_PX} pixels and {} MiB of pixels)",
            MAX_ALLOC_BYTES / 1024 / 1024
        )),
        ImageError::Unsupported(_) => refused("is an image format or variant that is not supported"),
        e => refused(format!("is not a readable image ({e})")),
    }
}

/// Decodes `bytes` (sniffed as `content_type`) within the limits, upright.
fn decode(bytes: &[u8], content_type: &str) -> AppResult<DynamicImage> {
    let format = ImageFormat::from_mime_type(content_type)
        .ok_or_else(|| refused(format!("is {content_type}, which is not an image")))?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE_PX);
    limits.max_image_height = Some(MAX_SIDE_PX);
    limits.max_alloc = Some(MAX_ALLOC_BYTES);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    let orientation = decoder.orientation().map_err(decode_error)?;
    let mut img = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    img.apply_orientation(orientation);
    Ok(img)
}

fn resize(img: &DynamicImage, px: u32, fit: Fit) -> DynamicImage {
    match fit {
        Fit::Square => img.resize_to_fill(px, px, FilterType::Lanczos3),
        Fit::Within if img.width() > px || img.height() > px => {
            img.resize(px, px, FilterType::Lanczos3)
        }
        Fit::Within => img.clone(),
    }
}

fn encode(img: &DynamicImage, jpeg: bool) -> AppResult<Vec<u8>> {
    let mut out = Vec::new();
    let written = if jpeg {
        JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY).encode_image(&img.to_rgb8())
    } else {
        img.to_rgba8().write_with_encoder(PngEncoder::new(&mut out))
    };
    written.map_err(AppError::internal)?;
    Ok(out)
}

/// The standard sizes of an upload of `kind` (largest first), from its bytes; BAD_USER_INPUT
/// on `input.file` when they do not decode or are too large to. Blocking: see [`process`].
pub fn process_blocking(
    kind: FileKind,
    bytes: &[u8],
    content_type: &str,
) -> AppResult<Vec<Encoded>> {
    let img = decode(bytes, content_type)?;
    let jpeg = content_type == "image/jpeg";
    sizes(kind)
        .iter()
        .map(|&(px, fit)| {
            let sized = resize(&img, px, fit);
            Ok(Encoded {
                size_px: px,
                width: sized.width(),
                height: sized.height(),
                content_type: if jpeg { "image/jpeg" } else { "image/png" },
                extension: if jpeg { "jpg" } else { "png" },
                bytes: encode(&sized, jpeg)?,
            })
        })
        .collect()
}

/// [`process_blocking`] on the blocking pool.
pub async fn process(
    kind: FileKind,
    bytes: Vec<u8>,
    content_type: String,
) -> AppResult<Vec<Encoded>> {
    tokio::task::spawn_blocking(move || process_blocking(kind, &bytes, &content_type))
        .await
        .map_err(AppError::internal)?
}

/// `name` with the extension of the re-encoded bytes.
pub fn renamed(name: &str, extension: &str) -> String {
    let stem = match name.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => name,
    };
    format!("{stem}.{extension}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
            w,
            h,
            image::Rgba([9, 8, 7, 255]),
        ));
        encode(&img, false).unwrap()
    }

    #[test]
    fn avatars_are_squares_and_logos_fit_without_enlarging() {
        let out = process_blocking(FileKind::Avatar, &png(300, 120), "image/png").unwrap();
        let dims: Vec<_> = out.iter().map(|e| (e.size_px, e.width, e.height)).collect();
        assert_eq!(dims, vec![(256, 256, 256), (64, 64, 64)]);
        let out = process_blocking(FileKind::Logo, &png(1000, 250), "image/png").unwrap();
        let dims: Vec<_> = out.iter().map(|e| (e.size_px, e.width, e.height)).collect();
        assert_eq!(dims, vec![(512, 512, 128), (128, 128, 32)]);
        let out = process_blocking(FileKind::Logo, &png(100, 40), "image/png").unwrap();
        assert_eq!((out[0].width, out[0].height), (100, 40));
        assert_eq!((out[1].width, out[1].height), (100, 40));
        assert_eq!(out[0].content_type, "image/png");
    }

    #[test]
    fn garbage_is_bad_user_input() {
        let err = process_blocking(
            FileKind::Avatar,
            b"\x89PNG\r\n\x1a\nnot really",
            "image/png",
        );
        assert!(matches!(err, Err(AppError::BadUserInput { .. })), "{err:?}");
    }

    #[test]
    fn renaming_swaps_the_extension() {
        assert_eq!(renamed("me.gif", "png"), "me.png");
        assert_eq!(renamed("a.b.jpeg", "jpg"), "a.b.jpg");
        assert_eq!(renamed(".hidden", "png"), ".hidden.png");
    }
}
