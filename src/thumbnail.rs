//! Small previews of images: JPEG thumbnails that go into an outgoing offer (so the receiver sees
//! what it is asked to accept), and RGBA previews the window shows next to chosen files.
//!
//! A JPEG from a camera or phone usually carries a small preview in its EXIF block; when that
//! preview has the picture's proportions it is used, which takes milliseconds. Otherwise the whole
//! image is decoded, which takes a while on a large photo (seconds in a debug build): call these
//! functions from a worker thread, never from the UI thread. Decoding is bounded
//! ([`decode_limits`]) so a crafted file cannot make us allocate gigabytes, and EXIF orientation
//! is applied so a portrait photo taken with a phone shows upright.

mod exif;

use std::io::{Cursor, Read};
use std::path::Path;

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageDecoder, ImageReader, Limits, RgbaImage};

use crate::protocol::MAX_THUMBNAIL;

/// Longest edge of a thumbnail in pixels: sharp at the ~48-point size the prompt shows, even on a
/// 2× screen, and a few kilobytes as a JPEG.
pub const THUMBNAIL_EDGE: u32 = 160;

/// JPEG qualities tried in turn until the thumbnail fits in [`MAX_THUMBNAIL`].
const QUALITIES: [u8; 3] = [75, 50, 30];

/// Largest image we agree to decode (per side) and the most memory one decode may take. A
/// 100-megapixel camera frame fits; a "pixel bomb" does not.
pub fn decode_limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(20_000);
    limits.max_image_height = Some(20_000);
    limits.max_alloc = Some(512 * 1024 * 1024);
    limits
}

/// A JPEG thumbnail of the image at `path` (longest edge [`THUMBNAIL_EDGE`], EXIF orientation
/// applied), at most [`MAX_THUMBNAIL`] bytes; `None` when the file is not an image we can
/// decode. Slow: call off the UI thread.
pub fn make_thumbnail(path: &Path) -> Option<Vec<u8>> {
    encode_jpeg(&load_small(path, THUMBNAIL_EDGE)?)
}

/// An RGBA preview of the image at `path` whose longest edge is at most `edge` pixels; `None`
/// when it is not an image we can decode. Slow: call off the UI thread.
pub fn preview_rgba(path: &Path, edge: u32) -> Option<RgbaImage> {
    Some(load_small(path, edge)?.to_rgba8())
}

/// Decodes a thumbnail that arrived in an offer. It comes from the network, so anything that is
/// not a small JPEG is refused.
pub fn decode_received(jpeg: &[u8]) -> Option<RgbaImage> {
    if jpeg.is_empty() || jpeg.len() > MAX_THUMBNAIL {
        return None;
    }
    Some(decode_small_jpeg(jpeg)?.thumbnail(THUMBNAIL_EDGE, THUMBNAIL_EDGE).to_rgba8())
}

/// Decodes a JPEG that should be small (a received thumbnail, an embedded EXIF preview),
/// refusing anything large.
fn decode_small_jpeg(jpeg: &[u8]) -> Option<DynamicImage> {
    let mut reader = ImageReader::with_format(Cursor::new(jpeg), image::ImageFormat::Jpeg);
    let mut limits = Limits::default();
    limits.max_image_width = Some(4 * THUMBNAIL_EDGE);
    limits.max_image_height = Some(4 * THUMBNAIL_EDGE);
    limits.max_alloc = Some(16 * 1024 * 1024);
    reader.limits(limits);
    reader.decode().ok()
}

/// The image at `path` with its longest edge at most `edge`, upright.
fn load_small(path: &Path, edge: u32) -> Option<DynamicImage> {
    if let Some(small) = from_exif_preview(path, edge) {
        return Some(small);
    }
    Some(load_oriented(path)?.thumbnail(edge, edge))
}

/// The EXIF block sits in the first segments of a JPEG; 128 KiB covers it (an APP1 segment is at
/// most 64 KiB) plus what some cameras put before it.
const EXIF_HEAD: u64 = 128 * 1024;

/// The preview embedded in a JPEG's EXIF block, when it is at least `edge` pixels on its longest
/// side and has the picture's proportions (some cameras letterbox it), turned upright.
fn from_exif_preview(path: &Path, edge: u32) -> Option<DynamicImage> {
    let mut head = Vec::new();
    std::fs::File::open(path).ok()?.take(EXIF_HEAD).read_to_end(&mut head).ok()?;
    let exif = exif::find(&head)?;
    let preview = decode_small_jpeg(exif.thumbnail()?)?;
    if preview.width().max(preview.height()) < edge {
        return None;
    }
    let (width, height) = ImageReader::open(path).ok()?.with_guessed_format().ok()?.into_dimensions().ok()?;
    let ratio = |w: u32, h: u32| f64::from(w) / f64::from(h.max(1));
    if (ratio(preview.width(), preview.height()) - ratio(width, height)).abs() > 0.02 * ratio(width, height) {
        return None;
    }
    let orientation = exif
        .orientation
        .and_then(|o| u8::try_from(o).ok())
        .and_then(image::metadata::Orientation::from_exif)
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut small = preview.thumbnail(edge, edge);
    small.apply_orientation(orientation);
    Some(small)
}

/// Decodes `path` (format guessed from its first bytes, not its name) and turns it the way its
/// EXIF orientation says.
fn load_oriented(path: &Path) -> Option<DynamicImage> {
    let mut reader = ImageReader::open(path).ok()?.with_guessed_format().ok()?;
    reader.format()?;
    reader.limits(decode_limits());
    let mut decoder = reader.into_decoder().ok()?;
    // A broken EXIF block is no reason to show nothing: fall back to "as stored".
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).ok()?;
    image.apply_orientation(orientation);
    Some(image)
}

/// Encodes as JPEG, lowering the quality until it fits in [`MAX_THUMBNAIL`].
fn encode_jpeg(image: &DynamicImage) -> Option<Vec<u8>> {
    // JPEG has no alpha channel; flatten to RGB first.
    let rgb = DynamicImage::ImageRgb8(image.to_rgb8());
    QUALITIES.iter().find_map(|&quality| {
        let mut out = Vec::new();
        rgb.write_with_encoder(JpegEncoder::new_with_quality(&mut out, quality)).ok()?;
        (out.len() <= MAX_THUMBNAIL).then_some(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};

    /// A 400×200 JPEG, left half red and right half blue, optionally carrying an EXIF
    /// orientation tag.
    fn landscape_jpeg(orientation: Option<u16>) -> Vec<u8> {
        let img =
            RgbImage::from_fn(400, 200, |x, _| if x < 200 { Rgb([255, 0, 0]) } else { Rgb([0, 0, 255]) });
        let mut jpeg = Vec::new();
        DynamicImage::ImageRgb8(img)
            .write_with_encoder(JpegEncoder::new_with_quality(&mut jpeg, 90))
            .unwrap();
        match orientation {
            None => jpeg,
            Some(o) => insert_exif_orientation(&jpeg, o),
        }
    }

    /// Puts an APP1 EXIF segment with only an Orientation tag right after the SOI marker.
    fn insert_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
        let mut tiff = Vec::new();
        tiff.extend_from_slice(b"MM\0\x2a\0\0\0\x08"); // big-endian TIFF header, IFD at 8
        tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
        tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
        tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
        tiff.extend_from_slice(&1u32.to_be_bytes()); // count
        tiff.extend_from_slice(&orientation.to_be_bytes());
        tiff.extend_from_slice(&[0, 0]); // value padding
        tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
        let mut payload = b"Exif\0\0".to_vec();
        payload.extend_from_slice(&tiff);
        let mut out = jpeg[..2].to_vec();
        out.extend_from_slice(&[0xFF, 0xE1]);
        out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(&payload);
        out.extend_from_slice(&jpeg[2..]);
        out
    }

    fn write_temp(bytes: &[u8], name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        (dir, path)
    }

    #[test]
    fn thumbnail_is_a_small_jpeg_with_the_long_edge_at_most_160() {
        let (_dir, path) = write_temp(&landscape_jpeg(None), "photo.jpg");
        let thumb = make_thumbnail(&path).expect("a thumbnail");
        assert!(thumb.len() <= MAX_THUMBNAIL);
        assert_eq!(&thumb[..2], &[0xFF, 0xD8], "JPEG magic");
        let decoded = decode_received(&thumb).expect("decodes");
        assert_eq!((decoded.width(), decoded.height()), (160, 80));
    }

    #[test]
    fn exif_rotation_is_applied() {
        // 6 = "rotate 90° clockwise to display": the landscape image becomes portrait, red on top.
        let (_dir, path) = write_temp(&landscape_jpeg(Some(6)), "rotated.jpg");
        let preview = preview_rgba(&path, 160).expect("a preview");
        assert_eq!((preview.width(), preview.height()), (80, 160));
        let top = preview.get_pixel(40, 10);
        let bottom = preview.get_pixel(40, 150);
        assert!(top[0] > 200 && top[2] < 60, "top should be red, is {top:?}");
        assert!(bottom[2] > 200 && bottom[0] < 60, "bottom should be blue, is {bottom:?}");
    }

    /// A JPEG of `w`×`h` in one colour, without EXIF.
    fn plain_jpeg(w: u32, h: u32, color: [u8; 3]) -> Vec<u8> {
        let mut jpeg = Vec::new();
        DynamicImage::ImageRgb8(RgbImage::from_pixel(w, h, Rgb(color)))
            .write_with_encoder(JpegEncoder::new_with_quality(&mut jpeg, 90))
            .unwrap();
        jpeg
    }

    /// A red `w`×`h` picture carrying a green embedded preview of `pw`×`ph`.
    fn with_embedded_preview(w: u32, h: u32, pw: u32, ph: u32, orientation: u16) -> Vec<u8> {
        let main = plain_jpeg(w, h, [255, 0, 0]);
        let preview = plain_jpeg(pw, ph, [0, 255, 0]);
        let mut out = main[..2].to_vec();
        out.extend(exif::tests::exif_segment(orientation, Some(&preview)));
        out.extend_from_slice(&main[2..]);
        out
    }

    fn is_green(img: &RgbaImage) -> bool {
        let p = img.get_pixel(img.width() / 2, img.height() / 2);
        p[1] > 200 && p[0] < 60
    }

    #[test]
    fn the_embedded_exif_preview_is_used_when_it_has_the_pictures_proportions() {
        let (_dir, path) = write_temp(&with_embedded_preview(800, 600, 160, 120, 1), "camera.jpg");
        let thumb = decode_received(&make_thumbnail(&path).unwrap()).unwrap();
        assert!(is_green(&thumb), "the embedded preview, not the picture");
        assert_eq!((thumb.width(), thumb.height()), (160, 120));
    }

    #[test]
    fn the_embedded_preview_is_turned_upright_too() {
        let (_dir, path) = write_temp(&with_embedded_preview(800, 600, 160, 120, 6), "portrait.jpg");
        let preview = preview_rgba(&path, 160).unwrap();
        assert!(is_green(&preview));
        assert_eq!((preview.width(), preview.height()), (120, 160));
    }

    #[test]
    fn a_letterboxed_or_tiny_embedded_preview_is_not_used() {
        let (_dir, path) = write_temp(&with_embedded_preview(1600, 900, 160, 120, 1), "wide.jpg");
        let thumb = preview_rgba(&path, 160).unwrap();
        assert!(!is_green(&thumb), "a 4:3 preview of a 16:9 picture is letterboxed");
        assert_eq!((thumb.width(), thumb.height()), (160, 90));
        let (_dir, path) = write_temp(&with_embedded_preview(800, 600, 80, 60, 1), "small.jpg");
        assert!(!is_green(&preview_rgba(&path, 160).unwrap()), "too small to be sharp");
    }

    #[test]
    fn non_images_have_no_thumbnail() {
        let (_dir, path) = write_temp(b"just some text, not a picture", "notes.jpg");
        assert!(make_thumbnail(&path).is_none());
        assert!(make_thumbnail(Path::new("/nonexistent/ferry/photo.jpg")).is_none());
    }

    #[test]
    fn received_garbage_and_oversized_thumbnails_are_refused() {
        assert!(decode_received(b"not a jpeg").is_none());
        assert!(decode_received(&vec![0xFF; MAX_THUMBNAIL + 1]).is_none());
        assert!(decode_received(&[]).is_none());
    }
}
