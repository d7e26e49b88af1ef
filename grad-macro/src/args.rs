//! The attribute's arguments: `#[grad(wrt = a, b, crate = path)]`.

use syn::parse::{Parse, ParseStream};
use syn::{Ident, Path, Token};

mod kw {
    syn::custom_keyword!(wrt);
}

pub struct Args {
    /// The parameters to differentiate with respect to, in the order the gradient lists them;
    /// `None` for a building block (`#[grad]`): every float parameter, pullback only.
    pub wrt: Option<Vec<Ident>>,
    /// The path generated code uses for the `grad` crate (`crate = my_grad` after a rename).
    pub krate: Option<Path>,
}

const EXPECTED: &str =
    "expected `wrt = a, b, ...` (and optionally `crate = path`), or nothing for a building block";

impl Parse for Args {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut wrt: Option<Vec<Ident>> = None;
        let mut krate = None;
        while !input.is_empty() {
            if input.peek(kw::wrt) {
                let kw: kw::wrt = input.parse()?;
                if wrt.is_some() {
                    return Err(syn::Error::new(kw.span, "`wrt` is given twice"));
                }
                if input.parse::<Token![=]>().is_err() {
                    return Err(syn::Error::new(
                        kw.span,
                        "expected `=` after `wrt`: write `wrt = a, b, ...`",
                    ));
                }
                if !input.peek(Ident) {
                    return Err(syn::Error::new(
                        kw.span,
                        "expected the names of parameters after `wrt =`: write `wrt = a, b, ...`",
                    ));
                }
                let mut names = vec![input.parse::<Ident>()?];
                // `wrt = a, b, crate = x`: a name continues the list unless an option follows.
                while input.peek(Token![,]) && input.peek2(Ident) && !input.peek3(Token![=]) {
                    input.parse::<Token![,]>()?;
                    names.push(input.parse()?);
                }
                wrt = Some(names);
            } else if input.peek(Token![crate]) {
                let kw: Token![crate] = input.parse()?;
                if krate.is_some() {
                    return Err(syn::Error::new(kw.span, "`crate` is given twice"));
                }
                input.parse::<Token![=]>()?;
                krate = Some(Path::parse_mod_style(input)?);
            } else if input.peek(Ident) {
                let id: Ident = input.parse()?;
                return Err(syn::Error::new(
                    id.span(),
                    format!("unknown option `{id}`; {EXPECTED}"),
                ));
            } else {
                return Err(input.error(EXPECTED));
            }
            if input.is_empty() {
                break;
            }
            if input.parse::<Token![,]>().is_err() {
                return Err(input.error(format!("expected `,` here; {EXPECTED}")));
            }
        }
        Ok(Args { wrt, krate })
    }
}
