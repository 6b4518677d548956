//! Checks of what enterprises type and upload: mobile numbers, passwords, the unified social
//! credit code, file contents, and the number list CSV.

use cunzheng_types::{
    compliance::{FiledNumber, Hours},
    Channel,
};

/// A mainland mobile number: 11 digits starting with 1.
pub fn mobile(s: &str) -> bool {
    s.len() == 11 && s.starts_with('1') && s.bytes().all(|b| b.is_ascii_digit())
}

/// 8 to 128 characters with at least one letter and one digit.
pub fn password(s: &str) -> bool {
    (8..=128).contains(&s.chars().count())
        && s.chars().any(|c| c.is_ascii_alphabetic())
        && s.chars().any(|c| c.is_ascii_digit())
}

/// The characters of a unified social credit code (GB 32100-2015), by value.
const CODE_CHARS: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const CODE_WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/// The check character of the first 17 characters of a credit code, if they are valid.
pub fn credit_code_check(first17: &str) -> Option<char> {
    if first17.len() != 17 {
        return None;
    }
    let mut sum = 0;
    for (c, w) in first17.bytes().zip(CODE_WEIGHTS) {
        let v = CODE_CHARS.iter().position(|&x| x == c)? as u32;
        sum += v * w;
    }
    let check = (31 - sum % 31) % 31;
    Some(CODE_CHARS[check as usize] as char)
}

/// Whether `s` is an 18-character unified social credit code with a correct check character.
pub fn credit_code(s: &str) -> bool {
    s.len() == 18
        && s.is_ascii()
        && credit_code_check(&s[..17]) == s[17..].chars().next()
        && s.bytes().all(|c| CODE_CHARS.contains(&c))
}

/// The kinds of file the portal takes, told by content, not by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Pdf,
    Jpeg,
    Png,
    /// Word 97-2003 (an OLE2 compound file).
    Doc,
    /// Word 2007 and later (a ZIP holding `word/document.xml`).
    Docx,
}

impl FileKind {
    pub fn sniff(bytes: &[u8]) -> Option<FileKind> {
        if bytes.starts_with(b"%PDF-") {
            Some(FileKind::Pdf)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(FileKind::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(FileKind::Png)
        } else if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
            Some(FileKind::Doc)
        } else if bytes.starts_with(b"PK\x03\x04")
            && bytes.windows(17).any(|w| w == b"word/document.xml")
        {
            Some(FileKind::Docx)
        } else {
            None
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            FileKind::Pdf => "application/pdf",
            FileKind::Jpeg => "image/jpeg",
            FileKind::Png => "image/png",
            FileKind::Doc => "application/msword",
            FileKind::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
        }
    }
}

/// The header of the number list, as the template has it.
pub const CSV_HEADER: [&str; 4] = ["通信类型", "号码类型", "企业号码", "运营商名称"];

/// The template offered for download: the header and one example row per channel.
pub fn csv_template() -> String {
    format!(
        "\u{feff}{}\r\n语音,固话,075538833883,中国电信\r\n短信,106,106909570626,中国移动\r\n",
        CSV_HEADER.join(",")
    )
}

/// One bad row of an uploaded number list: its line in the file and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    pub line: u64,
    pub message: String,
}

const MAX_NUMBERS: usize = 10_000;

/// Parses a number list: the header row, then one number per row. Returns every bad row, so
/// that the form can show them all at once.
pub fn number_list(bytes: &[u8]) -> Result<Vec<FiledNumber>, Vec<RowError>> {
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(bytes);
    let header_ok = match reader.headers() {
        Ok(h) => h.iter().map(str::trim).eq(CSV_HEADER.iter().copied()),
        Err(_) => false,
    };
    if !header_ok {
        return Err(vec![RowError {
            line: 1,
            message: format!("表头应为：{}", CSV_HEADER.join(",")),
        }]);
    }
    let mut numbers = Vec::new();
    let mut errors = Vec::new();
    for row in reader.records() {
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                errors.push(RowError {
                    line, message: "无法读取此行（应为 UTF-8 的 CSV）".into()
                });
                continue;
            }
        };
        let line = row.position().map(|p| p.line()).unwrap_or(0);
        if row.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if row.len() != 4 {
            errors.push(RowError {
                line, message: format!("应有 4 列，实有 {} 列", row.len())
            });
            continue;
        }
        let f: Vec<&str> = row.iter().map(str::trim).collect();
        let comm_type = match f[0] {
            "语音" | "voice" => Channel::Voice,
            "短信" | "sms" => Channel::Sms,
            other => {
                errors.push(RowError {
                    line,
                    message: format!("通信类型“{other}”应为“语音”或“短信”"),
                });
                continue;
            }
        };
        let number_ok = {
            let digits = f[2].strip_prefix('+').unwrap_or(f[2]);
            (3..=21).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
        };
        if !number_ok {
            errors
                .push(RowError {
                    line, message: format!("企业号码“{}”应为 3 至 21 位数字", f[2])
                });
            continue;
        }
        if f[1].is_empty() || f[1].chars().count() > 32 {
            errors.push(RowError { line, message: "号码类型应为 1 至 32 个字符".into() });
            continue;
        }
        if f[3].is_empty() || f[3].chars().count() > 32 {
            errors.push(RowError {
                line, message: "运营商名称应为 1 至 32 个字符".into()
            });
            continue;
        }
        numbers.push(FiledNumber {
            comm_type,
            number_type: f[1].to_owned(),
            number: f[2].to_owned(),
            carrier: f[3].to_owned(),
        });
    }
    if numbers.is_empty() && errors.is_empty() {
        errors.push(RowError { line: 2, message: "号码列表为空".into() });
    }
    if numbers.len() > MAX_NUMBERS {
        errors.push(RowError { line: 0, message: format!("号码不能超过 {MAX_NUMBERS} 个") });
    }
    if errors.is_empty() {
        Ok(numbers)
    } else {
        Err(errors)
    }
}

/// Allowed hours as typed (`9:00-20:00` too), in the chain's form `09:00-20:00`.
pub fn hours(s: &str) -> Option<String> {
    let (a, b) = s.trim().split_once('-')?;
    let pad = |t: &str| {
        let (h, m) = t.trim().split_once(':')?;
        Some(format!("{:0>2}:{m}", h))
    };
    let text = format!("{}-{}", pad(a)?, pad(b)?);
    text.parse::<Hours>().ok().map(|_| text)
}

/// A number with its middle hidden: `138****5678`.
pub fn mask(phone: &str) -> String {
    if phone.len() < 7 || !phone.is_ascii() {
        return "****".into();
    }
    format!("{}****{}", &phone[..3], &phone[phone.len() - 4..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credit_codes_are_checked_by_their_last_character() {
        // Published example codes.
        assert!(credit_code("91350100M000100Y43"));
        assert!(credit_code("91110000802100433B"));
        assert!(!credit_code("91350100M000100Y44"));
        assert!(!credit_code("91350100M000100Y4"));
        // I, O, S, V and Z are not in the alphabet.
        assert!(!credit_code("91350100M0001O0Y43"));
        for first in ["91350100M000100Y4", "12100000400010000", "9144030071526726X"] {
            let check = credit_code_check(first).unwrap();
            assert!(credit_code(&format!("{first}{check}")));
        }
    }

    #[test]
    fn files_are_told_by_content() {
        assert_eq!(FileKind::sniff(b"%PDF-1.7 ..."), Some(FileKind::Pdf));
        assert_eq!(FileKind::sniff(b"\x89PNG\r\n\x1a\n...."), Some(FileKind::Png));
        assert_eq!(FileKind::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(FileKind::Jpeg));
        assert_eq!(FileKind::sniff(b"PK\x03\x04....word/document.xml"), Some(FileKind::Docx));
        assert_eq!(FileKind::sniff(b"PK\x03\x04....xl/workbook.xml"), None);
        assert_eq!(FileKind::sniff(b"MZ\x90\x00 an executable named licence.pdf"), None);
        assert_eq!(FileKind::sniff(b""), None);
    }

    #[test]
    fn the_template_parses_and_bad_rows_are_all_reported() {
        let numbers = number_list(csv_template().as_bytes()).unwrap();
        assert_eq!(numbers.len(), 2);
        assert_eq!(numbers[0].comm_type, Channel::Voice);
        assert_eq!(numbers[1].number, "106909570626");

        let bad = "通信类型,号码类型,企业号码,运营商名称\n语音,固话,0755-3883,中国电信\n\
                   传真,固话,075538833883,中国电信\n短信,106,106909570626\n\
                   语音,手机,13800138000,中国联通\n";
        let errors = number_list(bad.as_bytes()).unwrap_err();
        let lines: Vec<u64> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 3, 4]);
        assert!(errors[0].message.contains("企业号码"));
        assert!(errors[1].message.contains("通信类型"));
        assert!(errors[2].message.contains("4 列"));

        let errors = number_list("phone,carrier\n1,2\n".as_bytes()).unwrap_err();
        assert_eq!(errors[0].line, 1);
        assert!(number_list("通信类型,号码类型,企业号码,运营商名称\n".as_bytes()).is_err());
    }

    #[test]
    fn hours_are_normalized() {
        assert_eq!(hours("9:00-20:00").as_deref(), Some("09:00-20:00"));
        assert_eq!(hours("22:00-06:00").as_deref(), Some("22:00-06:00"));
        assert_eq!(hours("9-20"), None);
        assert_eq!(hours("25:00-26:00"), None);
    }

    #[test]
    fn mobiles_passwords_and_masks() {
        assert!(mobile("13800138000"));
        assert!(!mobile("1380013800"));
        assert!(!mobile("23800138000"));
        assert!(password("abcdef12"));
        assert!(!password("abcdefgh"));
        assert!(!password("a1"));
        assert_eq!(mask("13800138000"), "138****8000");
    }
}
