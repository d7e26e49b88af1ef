//! Optimisation of IR functions: dead code, loop fusion, shared factors, loop distribution.

pub mod distribute;
pub mod factor;
pub mod fuse;
pub mod simplify;
