//! Malformed input never crashes the macro (being written).
