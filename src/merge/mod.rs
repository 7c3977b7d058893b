//! Reports assembled from files: `stampede merge` of shard folders, and the
//! incomplete report of a run that died ([`partial`]).

pub mod cohort;
pub mod partial;
