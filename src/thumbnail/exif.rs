//! Just enough EXIF to find a JPEG's orientation and the small preview cameras and phones embed
//! in it, without decoding the picture itself (which takes a second or more for a large photo).
//!
//! The bytes come from any file the person picks, so every offset and count is checked against
//! the data before use; anything odd means "no EXIF", never a panic.

/// What we read from a JPEG's EXIF block.
pub struct Exif {
    /// The TIFF structure inside the APP1 segment; the embedded preview's offsets point into it.
    tiff: Vec<u8>,
    /// The Orientation tag (1..=8), if present.
    pub orientation: Option<u16>,
    /// Offset and length of the embedded JPEG preview inside `tiff`.
    thumbnail: Option<(usize, usize)>,
}

impl Exif {
    /// The embedded preview (a small JPEG), if the file has one that lies inside the block.
    pub fn thumbnail(&self) -> Option<&[u8]> {
        let (offset, len) = self.thumbnail?;
        self.tiff.get(offset..offset.checked_add(len)?)
    }
}

/// Finds the EXIF block among the segments before the image data of a JPEG whose first bytes are
/// `head`. `None` when it is not a JPEG, has no EXIF, or the EXIF is malformed.
pub fn find(head: &[u8]) -> Option<Exif> {
    if !head.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut pos = 2;
    loop {
        let (&mark, &kind) = (head.get(pos)?, head.get(pos + 1)?);
        if mark != 0xFF {
            return None;
        }
        match kind {
            0xFF => pos += 1,               // fill byte
            0x01 | 0xD0..=0xD8 => pos += 2, // markers without a length
            0xD9 | 0xDA => return None,     // end of image, start of scan
            _ => {
                let len = usize::from(u16::from_be_bytes([*head.get(pos + 2)?, *head.get(pos + 3)?]));
                let body = head.get(pos + 4..(pos + 2).checked_add(len)?)?;
                if kind == 0xE1 && body.starts_with(b"Exif\0\0") {
                    return parse_tiff(&body[6..]);
                }
                pos += 2 + len;
            }
        }
    }
}

/// Byte order aware reads from a TIFF structure.
struct Tiff<'a> {
    data: &'a [u8],
    big_endian: bool,
}

impl Tiff<'_> {
    fn u16_at(&self, at: usize) -> Option<u16> {
        let b: [u8; 2] = self.data.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if self.big_endian { u16::from_be_bytes(b) } else { u16::from_le_bytes(b) })
    }

    fn u32_at(&self, at: usize) -> Option<u32> {
        let b: [u8; 4] = self.data.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if self.big_endian { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) })
    }

    /// The entries of the IFD at `at` as (tag, offset of its value field), and the offset of the
    /// next IFD (0: none).
    fn ifd(&self, at: usize) -> Option<(Vec<(u16, usize)>, usize)> {
        let count = usize::from(self.u16_at(at)?);
        // A real IFD has a few dozen entries; more means garbage.
        if count > 1000 {
            return None;
        }
        let entries = (0..count)
            .map(|i| {
                let entry = at + 2 + i * 12;
                Some((self.u16_at(entry)?, entry + 8))
            })
            .collect::<Option<Vec<_>>>()?;
        let next = self.u32_at(at + 2 + count * 12)? as usize;
        Some((entries, next))
    }
}

const ORIENTATION: u16 = 0x0112;
const THUMBNAIL_OFFSET: u16 = 0x0201;
const THUMBNAIL_LENGTH: u16 = 0x0202;

fn parse_tiff(data: &[u8]) -> Option<Exif> {
    let big_endian = match data.get(0..2)? {
        b"MM" => true,
        b"II" => false,
        _ => return None,
    };
    let tiff = Tiff { data, big_endian };
    if tiff.u16_at(2)? != 42 {
        return None;
    }
    let (ifd0, next) = tiff.ifd(tiff.u32_at(4)? as usize)?;
    // A SHORT value sits in the first two bytes of the value field, in either byte order.
    let orientation = ifd0.iter().find(|(tag, _)| *tag == ORIENTATION).and_then(|(_, v)| tiff.u16_at(*v));
    // IFD1, when present, describes the embedded preview.
    let thumbnail = (next != 0 && next != tiff.u32_at(4)? as usize)
        .then(|| tiff.ifd(next))
        .flatten()
        .and_then(|(ifd1, _)| {
            let value =
                |wanted| ifd1.iter().find(|(tag, _)| *tag == wanted).and_then(|(_, v)| tiff.u32_at(*v));
            Some((value(THUMBNAIL_OFFSET)? as usize, value(THUMBNAIL_LENGTH)? as usize))
        });
    Some(Exif { tiff: data.to_vec(), orientation, thumbnail })
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A little-endian EXIF APP1 segment (marker included) with an Orientation tag and, when
    /// given, an embedded JPEG preview.
    pub fn exif_segment(orientation: u16, preview: Option<&[u8]>) -> Vec<u8> {
        let mut tiff = b"II\x2a\x00\x08\x00\x00\x00".to_vec();
        // IFD0 at 8: one entry, then the offset of IFD1 (8 + 2 + 12 + 4 = 26) or 0.
        tiff.extend_from_slice(&1u16.to_le_bytes());
        tiff.extend_from_slice(&ORIENTATION.to_le_bytes());
        tiff.extend_from_slice(&3u16.to_le_bytes());
        tiff.extend_from_slice(&1u32.to_le_bytes());
        tiff.extend_from_slice(&orientation.to_le_bytes());
        tiff.extend_from_slice(&[0, 0]);
        tiff.extend_from_slice(&(if preview.is_some() { 26u32 } else { 0 }).to_le_bytes());
        if let Some(preview) = preview {
            // IFD1 at 26: two entries (2 + 24 + 4 = 30 bytes), the preview right after, at 56.
            tiff.extend_from_slice(&2u16.to_le_bytes());
            for (tag, value) in [(THUMBNAIL_OFFSET, 56u32), (THUMBNAIL_LENGTH, preview.len() as u32)] {
                tiff.extend_from_slice(&tag.to_le_bytes());
                tiff.extend_from_slice(&4u16.to_le_bytes());
                tiff.extend_from_slice(&1u32.to_le_bytes());
                tiff.extend_from_slice(&value.to_le_bytes());
            }
            tiff.extend_from_slice(&0u32.to_le_bytes());
            tiff.extend_from_slice(preview);
        }
        let mut segment = vec![0xFF, 0xE1];
        segment.extend_from_slice(&((tiff.len() + 8) as u16).to_be_bytes());
        segment.extend_from_slice(b"Exif\0\0");
        segment.extend_from_slice(&tiff);
        segment
    }

    #[test]
    fn finds_orientation_and_preview() {
        let mut jpeg = vec![0xFF, 0xD8];
        jpeg.extend_from_slice(&[0xFF, 0xE0, 0x00, 0x04, 0xAA, 0xBB]); // an APP0 before it
        jpeg.extend(exif_segment(6, Some(b"tiny jpeg")));
        jpeg.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x02]);
        let exif = find(&jpeg).expect("exif");
        assert_eq!(exif.orientation, Some(6));
        assert_eq!(exif.thumbnail(), Some(&b"tiny jpeg"[..]));
    }

    #[test]
    fn every_truncation_and_corruption_is_refused_quietly() {
        let mut jpeg = vec![0xFF, 0xD8];
        jpeg.extend(exif_segment(3, Some(b"preview bytes")));
        for cut in 0..jpeg.len() {
            let _ = find(&jpeg[..cut]);
        }
        for i in 2..jpeg.len() {
            for byte in [0x00, 0xFF, 0x7F] {
                let mut bad = jpeg.clone();
                bad[i] = byte;
                if let Some(exif) = find(&bad) {
                    let _ = exif.thumbnail();
                }
            }
        }
        assert!(find(b"not a jpeg").is_none());
    }
}
