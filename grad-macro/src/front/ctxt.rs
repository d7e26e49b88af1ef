//! Collects errors so that a user sees every mistake in one build (as serde_derive's `Ctxt`).

use quote::ToTokens;
use std::cell::RefCell;
use std::fmt::Display;

#[derive(Default)]
pub struct Ctxt {
    errors: RefCell<Vec<syn::Error>>,
    /// Some error is one rustc also reports in the original's body (a type error): the
    /// original is then emitted without its body, so the mistake is said once.
    rustc_too: std::cell::Cell<bool>,
}

impl Ctxt {
    /// Records an error pointing at `tokens`.
    pub fn error_spanned<T: ToTokens, M: Display>(&self, tokens: T, msg: M) {
        self.errors
            .borrow_mut()
            .push(syn::Error::new_spanned(tokens, msg));
    }

    pub fn syn_error(&self, err: syn::Error) {
        self.errors.borrow_mut().push(err);
    }

    /// Records that the last error is a type error rustc also reports in the original's body.
    pub fn rustc_too(&self) {
        self.rustc_too.set(true);
    }

    /// Whether a type error rustc also reports was recorded.
    pub fn said_by_rustc_too(&self) -> bool {
        self.rustc_too.get()
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.borrow().is_empty()
    }

    /// All errors recorded, combined into one, or `Ok` if there were none.
    pub fn check(self) -> Result<(), syn::Error> {
        let mut errors = self.errors.into_inner().into_iter();
        let Some(mut first) = errors.next() else {
            return Ok(());
        };
        for e in errors {
            first.combine(e);
        }
        Err(first)
    }
}
