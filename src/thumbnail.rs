//! Placeholder until the window branch lands.
pub fn make_thumbnail(_path: &std::path::Path) -> Option<Vec<u8>> {
    None
}
