//! One serializable report model, rendered to every output format.

pub mod model;

pub use model::*;
