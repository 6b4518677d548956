//! A one-page PDF writer for evidence certificates: text lines and filled squares, nothing
//! more. Latin text is set in Helvetica and Chinese text in STSong-Light, PDF's predefined
//! Adobe-GB1 font, which PDF readers supply themselves, so no font file is embedded.

use std::fmt::Write;

/// A4 in points.
const WIDTH: f32 = 595.0;
const HEIGHT: f32 = 842.0;

/// The drawing operations of one page.
#[derive(Default)]
pub struct Page {
    ops: String,
}

impl Page {
    /// Latin text (printable ASCII; anything else is replaced by `?`) at `x`, `y` in `size`.
    pub fn text(&mut self, x: f32, y: f32, size: f32, s: &str) {
        let mut escaped = String::with_capacity(s.len());
        for c in s.chars() {
            match c {
                '(' | ')' | '\\' => {
                    escaped.push('\\');
                    escaped.push(c);
                }
                ' '..='~' => escaped.push(c),
                _ => escaped.push('?'),
            }
        }
        let _ = writeln!(self.ops, "BT /F1 {size} Tf {x} {y} Td ({escaped}) Tj ET");
    }

    /// Chinese text at `x`, `y` in `size`, as UCS-2 code units of the Basic Multilingual Plane.
    pub fn chinese(&mut self, x: f32, y: f32, size: f32, s: &str) {
        let units: String = s.encode_utf16().map(|u| format!("{u:04X}")).collect();
        let _ = writeln!(self.ops, "BT /F2 {size} Tf {x} {y} Td <{units}> Tj ET");
    }

    /// A filled black square with its lower left corner at `x`, `y`.
    pub fn square(&mut self, x: f32, y: f32, side: f32) {
        let _ = writeln!(self.ops, "{x} {y} {side} {side} re f");
    }

    /// A thin horizontal rule from `x0` to `x1` at `y`.
    pub fn rule(&mut self, x0: f32, x1: f32, y: f32) {
        let _ = writeln!(self.ops, "0.5 w {x0} {y} m {x1} {y} l S");
    }

    /// The document: catalog, page, the two fonts and the page's content stream.
    pub fn finish(self) -> Vec<u8> {
        let objects = [
            "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {WIDTH} {HEIGHT}] \
                 /Resources << /Font << /F1 4 0 R /F2 5 0 R >> >> /Contents 8 0 R >>"
            ),
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
                .to_owned(),
            "<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H \
             /DescendantFonts [6 0 R] >>"
                .to_owned(),
            "<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light \
             /CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 4 >> \
             /FontDescriptor 7 0 R >>"
                .to_owned(),
            "<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 \
             /FontBBox [-25 -254 1000 880] /ItalicAngle 0 /Ascent 880 /Descent -120 \
             /CapHeight 880 /StemV 93 >>"
                .to_owned(),
            format!("<< /Length {} >>\nstream\n{}endstream", self.ops.len(), self.ops),
        ];
        let mut out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
        let mut offsets = Vec::with_capacity(objects.len());
        for (i, body) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
        }
        let xref = out.len();
        let mut table = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
        for o in offsets {
            let _ = writeln!(table, "{o:010} 00000 n ");
        }
        let _ = write!(
            table,
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        );
        out.extend_from_slice(table.as_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cross_reference_table_points_at_each_object() {
        let mut page = Page::default();
        page.text(10.0, 10.0, 9.0, "tx (id) \\ 42");
        page.chinese(10.0, 30.0, 12.0, "存证证书");
        page.square(1.0, 2.0, 3.0);
        let pdf = page.finish();
        let has = |needle: &[u8]| pdf.windows(needle.len()).any(|w| w == needle);
        assert!(pdf.starts_with(b"%PDF-1.4\n"));
        assert!(has(br"(tx \(id\) \\ 42) Tj"));
        assert!(has(b"<5B588BC18BC14E66> Tj"), "UCS-2 of the title");
        let tail = std::str::from_utf8(&pdf[pdf.len() - 40..]).unwrap();
        let xref: usize =
            tail.split("startxref\n").nth(1).unwrap().lines().next().unwrap().parse().unwrap();
        let table = std::str::from_utf8(&pdf[xref..]).unwrap();
        assert!(table.starts_with("xref\n0 9\n"));
        for (i, line) in table.lines().skip(3).take(8).enumerate() {
            let offset: usize = line[..10].parse().unwrap();
            let object = format!("{} 0 obj", i + 1);
            assert!(pdf[offset..].starts_with(object.as_bytes()), "{object}");
        }
    }
}
