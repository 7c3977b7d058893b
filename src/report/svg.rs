//! SVG charts (in progress).
