//! The front end: the attribute's arguments, the function's signature, and the error sink.

pub mod alias;
pub mod args;
pub mod check;
pub mod ctxt;
pub mod fields;
pub mod lend;
pub mod out_param;
