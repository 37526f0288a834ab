//! [`LogSafe`]: text from outside (a campaign name, a refused request's
//! reason) as a log field, with control characters escaped, so that a
//! newline in it cannot start a forged log line.

use std::fmt;

/// Displays its text with every control character (`\n`, `\r`, `\t`,
/// ESC, ...) written as its escape (`\n`, `\u{1b}`); other characters as
/// they are.
#[derive(Clone, Copy, Debug)]
pub struct LogSafe<'a>(pub &'a str);

impl fmt::Display for LogSafe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                f.write_fmt(format_args!("{c}"))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_the_rest_kept() {
        let forged = "Spring sale\n2026-06-01T00:00:00Z  INFO admin key created\r\x1b[2J";
        let shown = LogSafe(forged).to_string();
        assert!(!shown.chars().any(char::is_control), "{shown}");
        assert_eq!(
            shown,
            "Spring sale\\n2026-06-01T00:00:00Z  INFO admin key created\\r\\u{1b}[2J"
        );
        assert_eq!(LogSafe("Café – 東京").to_string(), "Café – 東京");
    }
}
