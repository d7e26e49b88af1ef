//! Optimisation of IR functions: dead code, loop fusion, shared factors.

pub mod factor;
pub mod fuse;
pub mod simplify;
