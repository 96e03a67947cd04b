//! Placeholder until the names branch lands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsafe name")]
pub struct NameError;
pub fn safe_relative_path(wire_path: &str) -> Result<Vec<String>, NameError> {
    wire_path
        .split('/')
        .map(|c| {
            if c.is_empty() || c == "." || c == ".." || c.contains('\\') || c.chars().any(char::is_control) {
                Err(NameError)
            } else {
                Ok(c.to_owned())
            }
        })
        .collect()
}
