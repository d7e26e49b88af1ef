//! Implementation detail of the `grad` crate: the `#[grad]` attribute. Depend on `grad`, not
//! on this crate; its API is `grad`'s.

mod ad;
mod build;
mod emit;
mod expand;
mod front;
mod ir;
mod lower;
mod opt;
mod rules;

/// Differentiates a scalar function at compile time. See the `grad` crate for the manual.
#[proc_macro_attribute]
pub fn grad(
    args: proc_macro::TokenStream,
    item: proc_macro::TokenStream,
) -> proc_macro::TokenStream {
    expand::grad(args.into(), item.into()).into()
}

/// Gives a function a derivative rule instead of differentiating its body. See the `grad`
/// crate for the manual.
#[proc_macro_attribute]
pub fn rule(
    args: proc_macro::TokenStream,
    item: proc_macro::TokenStream,
) -> proc_macro::TokenStream {
    expand::rule::rule(args.into(), item.into()).into()
}

#[cfg(test)]
mod tests;
