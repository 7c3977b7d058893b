//! report.html (in progress).
use super::{Report, ReportError};
pub fn render_html(_report: &Report) -> Result<String, ReportError> {
    Ok(String::new())
}
