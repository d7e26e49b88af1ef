//! Automatic differentiation on the IR: reverse mode, forward mode, and the trace.

pub mod forward;
pub mod reverse;
pub mod trace;
