//! QR codes for short links, as SVG and PNG.
//!
//! Pure rendering: the caller builds the encoded text (the short URL with
//! `?nr=qr`, so scans are attributable) and picks format and size; this module
//! encodes it with error-correction level M and a 4-module quiet zone. No I/O.
//!
//! Sizes are in pixels, bounded by [`MIN_SIZE`]..=[`MAX_SIZE`]. Modules are
//! always a whole number of pixels, so the actual image is "about" the size
//! asked for:
//! * PNG: the largest integer scale that fits, so `size/2 < side <= size`
//!   (when the code has more modules than `size` pixels, one pixel per module,
//!   which is larger than `size`);
//! * SVG: qrcode's `min_dimensions(size, size)`, so `size <= side < size + modules`
//!   (the SVG scales anyway; `width`/`height`/`viewBox` carry this side).

use qrcode::render::svg;
use qrcode::types::QrError as EncodeError;
use qrcode::{Color, EcLevel, QrCode};

/// Smallest accepted size in pixels.
pub const MIN_SIZE: u32 = 64;
/// Largest accepted size in pixels.
pub const MAX_SIZE: u32 = 2048;
/// Size used when the request names none.
pub const DEFAULT_SIZE: u32 = 512;

/// Quiet zone width in modules on each side (the QR spec's minimum).
const QUIET_ZONE: u32 = 4;

/// Output format of [`render`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QrFormat {
    /// `image/svg+xml`.
    Svg,
    /// `image/png`.
    Png,
}

impl QrFormat {
    /// Parses `"svg"` or `"png"` (ASCII case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("svg") {
            Some(Self::Svg)
        } else if s.eq_ignore_ascii_case("png") {
            Some(Self::Png)
        } else {
            None
        }
    }

    /// The HTTP `Content-Type` of this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Svg => "image/svg+xml",
            Self::Png => "image/png",
        }
    }
}

/// Why a QR code could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum QrError {
    /// The data does not fit in the largest QR code (version 40, level M).
    #[error("data too long for a QR code")]
    TooLong,
    /// The requested size is outside `min..=max`.
    #[error("size {size} out of range ({min}..={max})")]
    BadSize {
        /// The requested size.
        size: u32,
        /// [`MIN_SIZE`].
        min: u32,
        /// [`MAX_SIZE`].
        max: u32,
    },
    /// Any other QR encoding failure (not expected for byte data).
    #[error("QR encoding failed: {0}")]
    Encode(EncodeError),
    /// PNG encoding failed.
    #[error("PNG encoding failed: {0}")]
    Png(#[from] png::EncodingError),
}

/// Renders `data` (the caller passes `short_url?nr=qr`) as a QR code of about
/// `size` pixels square (quiet zone included, error-correction level M).
pub fn render(data: &str, format: QrFormat, size: u32) -> Result<Vec<u8>, QrError> {
    if !(MIN_SIZE..=MAX_SIZE).contains(&size) {
        return Err(QrError::BadSize {
            size,
            min: MIN_SIZE,
            max: MAX_SIZE,
        });
    }
    let code =
        QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M).map_err(|e| match e {
            EncodeError::DataTooLong => QrError::TooLong,
            other => QrError::Encode(other),
        })?;
    match format {
        QrFormat::Svg => Ok(render_svg(&code, size).into_bytes()),
        QrFormat::Png => render_png(&code, size),
    }
}

fn render_svg(code: &QrCode, size: u32) -> String {
    code.render::<svg::Color>()
        .quiet_zone(true)
        .min_dimensions(size, size)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build()
}

/// Side of the PNG in pixels and the pixels per module, for a code of
/// `modules` modules (without quiet zone) and a requested `size`.
fn png_geometry(modules: u32, size: u32) -> (u32, u32) {
    let total = modules + 2 * QUIET_ZONE;
    let scale = (size / total).max(1);
    (total * scale, scale)
}

/// 1-bit grayscale PNG (1 = white), `scale` pixels per module.
fn render_png(code: &QrCode, size: u32) -> Result<Vec<u8>, QrError> {
    let width = code.width();
    let colors = code.to_colors();
    let modules = u32::try_from(width).expect("QR width is at most 177");
    let (side, scale) = png_geometry(modules, size);
    let side_px = side as usize;
    let scale_px = scale as usize;
    let quiet_px = QUIET_ZONE as usize * scale_px;
    let row_bytes = side_px.div_ceil(8);

    // Start all white, then clear the bits of dark modules.
    let mut pixels = vec![0xFF_u8; row_bytes * side_px];
    for (i, color) in colors.iter().enumerate() {
        if *color == Color::Light {
            continue;
        }
        let (mx, my) = (i % width, i / width);
        let x0 = quiet_px + mx * scale_px;
        let y0 = quiet_px + my * scale_px;
        for y in y0..y0 + scale_px {
            let row = &mut pixels[y * row_bytes..(y + 1) * row_bytes];
            for x in x0..x0 + scale_px {
                row[x / 8] &= !(0x80 >> (x % 8));
            }
        }
    }

    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, side, side);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::One);
        encoder.set_compression(png::Compression::Best);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&pixels)?;
        writer.finish()?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://lnk.example/abc123?nr=qr";

    /// Decodes a PNG into (width, height, 8-bit gray pixels).
    fn decode_png(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let mut decoder = png::Decoder::new(bytes);
        decoder.set_transformations(png::Transformations::EXPAND);
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, png::ColorType::Grayscale);
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    fn modules_for(data: &str) -> u32 {
        QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M)
            .unwrap()
            .width() as u32
    }

    #[test]
    fn format_parse_and_content_type() {
        assert_eq!(QrFormat::parse("svg"), Some(QrFormat::Svg));
        assert_eq!(QrFormat::parse("PNG"), Some(QrFormat::Png));
        assert_eq!(QrFormat::parse("jpg"), None);
        assert_eq!(QrFormat::parse(""), None);
        assert_eq!(QrFormat::Svg.content_type(), "image/svg+xml");
        assert_eq!(QrFormat::Png.content_type(), "image/png");
    }

    #[test]
    fn svg_has_expected_dimensions() {
        let total = modules_for(URL) + 2 * QUIET_ZONE;
        for size in [MIN_SIZE, DEFAULT_SIZE, MAX_SIZE] {
            let svg = String::from_utf8(render(URL, QrFormat::Svg, size).unwrap()).unwrap();
            assert!(svg.starts_with("<?xml") || svg.starts_with("<svg"));
            assert!(svg.contains("<svg"));
            assert!(svg.trim_end().ends_with("</svg>"));
            // min_dimensions: smallest whole-module side >= size.
            let side = total * size.div_ceil(total);
            assert!(side >= size && side < size + total);
            assert!(
                svg.contains(&format!(r#"width="{side}" height="{side}""#)),
                "{size}: {}",
                &svg[..200]
            );
            assert!(svg.contains(&format!(r#"viewBox="0 0 {side} {side}""#)));
        }
    }

    #[test]
    fn png_decodes_with_expected_geometry_and_pixels() {
        let modules = modules_for(URL);
        let total = modules + 2 * QUIET_ZONE;
        for size in [MIN_SIZE, 100, DEFAULT_SIZE, 1000, MAX_SIZE] {
            let bytes = render(URL, QrFormat::Png, size).unwrap();
            assert!(bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]));
            let (w, h, px) = decode_png(&bytes);
            let scale = size / total;
            assert_eq!((w, h), (total * scale, total * scale), "size {size}");
            assert!(w <= size && w > size / 2, "size {size}: {w}");

            let at = |x: u32, y: u32| px[(y * w + x) as usize];
            // Quiet zone is white.
            assert_eq!(at(0, 0), 255);
            assert_eq!(at(w - 1, h - 1), 255);
            assert_eq!(at(QUIET_ZONE * scale - 1, QUIET_ZONE * scale - 1), 255);
            // Top-left finder pattern: outer ring black, then white ring,
            // then black 3x3 centre (module coordinates, offset by the quiet zone).
            let module = |mx: u32, my: u32| {
                let c = at((QUIET_ZONE + mx) * scale, (QUIET_ZONE + my) * scale);
                // Every pixel of a module has the same value.
                let last = at(
                    (QUIET_ZONE + mx + 1) * scale - 1,
                    (QUIET_ZONE + my + 1) * scale - 1,
                );
                assert_eq!(c, last);
                c
            };
            assert_eq!(module(0, 0), 0);
            assert_eq!(module(6, 0), 0);
            assert_eq!(module(0, 6), 0);
            assert_eq!(module(1, 1), 255);
            assert_eq!(module(3, 3), 0);
            // Separator.
            assert_eq!(module(7, 7), 255);
            // Top-right and bottom-left finders too.
            assert_eq!(module(modules - 1, 0), 0);
            assert_eq!(module(0, modules - 1), 0);
            assert_eq!(module(modules - 4, 3), 0);
            // Only black and white.
            assert!(px.iter().all(|&p| p == 0 || p == 255));
        }
    }

    #[test]
    fn png_geometry_bounds() {
        // Version 1 (21 modules) up to version 40 (177 modules).
        for modules in (21..=177).step_by(4) {
            for size in [MIN_SIZE, 65, 127, 300, DEFAULT_SIZE, 777, MAX_SIZE] {
                let total = modules + 2 * QUIET_ZONE;
                let (side, scale) = png_geometry(modules, size);
                assert_eq!(side, total * scale);
                if total <= size {
                    assert!(side <= size && side > size / 2, "{modules} {size}");
                } else {
                    assert_eq!((side, scale), (total, 1));
                }
            }
        }
    }

    #[test]
    fn size_bounds_are_enforced() {
        for format in [QrFormat::Svg, QrFormat::Png] {
            for size in [0, 1, MIN_SIZE - 1, MAX_SIZE + 1, u32::MAX] {
                assert!(
                    matches!(
                        render(URL, format, size),
                        Err(QrError::BadSize { size: s, min: MIN_SIZE, max: MAX_SIZE }) if s == size
                    ),
                    "{format:?} {size}"
                );
            }
            assert!(render(URL, format, MIN_SIZE).is_ok());
            assert!(render(URL, format, MAX_SIZE).is_ok());
        }
    }

    #[test]
    fn too_long_data_is_rejected() {
        let long = "x".repeat(3000);
        assert!(matches!(
            render(&long, QrFormat::Png, DEFAULT_SIZE),
            Err(QrError::TooLong)
        ));
        assert!(matches!(
            render(&long, QrFormat::Svg, DEFAULT_SIZE),
            Err(QrError::TooLong)
        ));
    }

    #[test]
    fn large_code_at_small_size_uses_one_pixel_per_module() {
        // ~1000 bytes needs far more than 64 modules.
        let data = "y".repeat(1000);
        let modules = modules_for(&data);
        let (w, h, px) = decode_png(&render(&data, QrFormat::Png, MIN_SIZE).unwrap());
        assert_eq!((w, h), (modules + 8, modules + 8));
        assert_eq!(px[0], 255);
        assert_eq!(px[(4 * w + 4) as usize], 0);
    }
}
