//! The attribute's arguments: `#[grad(wrt = a, b, crate = path)]`.

use syn::parse::{Parse, ParseStream};
use syn::{Ident, Path, Token};

mod kw {
    syn::custom_keyword!(wrt);
    syn::custom_keyword!(mode);
    syn::custom_keyword!(hessian);
    syn::custom_keyword!(trace);
    syn::custom_keyword!(graph);
    syn::custom_keyword!(checkpoint);
    syn::custom_keyword!(ordered_sums);
    syn::custom_keyword!(__lanes_always);
    syn::custom_keyword!(float);
}

pub struct Args {
    /// The parameters to differentiate with respect to, in the order the gradient lists them;
    /// `None` for a building block (`#[grad]`): every float parameter, pullback only.
    pub wrt: Option<Vec<Ident>>,
    /// The path generated code uses for the `backprop` crate (`crate = my_grad` after a rename).
    pub krate: Option<Path>,
    /// `mode = forward`: `_grad` and `_value_and_grad` computed in forward mode, and `_jvp`.
    pub forward: bool,
    /// `hessian`: `_hessian` and `_hvp` too.
    pub hessian: bool,
    /// `trace`: `_trace`, the table of the gradient with numbers.
    pub trace: bool,
    /// `graph`: `_graph`, the computational graph in Graphviz DOT.
    pub graph: bool,
    /// `checkpoint`: the outermost `for` loops over a range keep their state per segment of
    /// about √T iterations, and the reverse sweep recomputes each segment once more.
    pub checkpoint: bool,
    /// `ordered_sums`: every sum of the derivative code adds its terms in the order of the
    /// iterations (by default a loop's adjoint sums are kept in lanes: `emit::lanes`).
    pub ordered_sums: bool,
    /// `__lanes_always` (for the project's own tests, not documented): a loop's sums in lanes
    /// however short the loop, so that random programs over short arrays reach them.
    pub lanes_always: bool,
    /// `mode = reverse`, said explicitly (a Jacobian then uses reverse mode whatever its
    /// shape).
    pub reverse: bool,
    /// `float = T`: the float type is `T`, a type parameter declared by the enclosing `impl`
    /// (`impl<T: Real> Model<T>`), where the macro cannot see its bound.
    pub float: Option<Ident>,
}

const EXPECTED: &str = "expected `wrt = a, b, ...` (and optionally `mode = forward`, `hessian`, `trace`, `graph`, `checkpoint`, `ordered_sums`, `float = T`, `crate = path`), or nothing for a building block";

impl Parse for Args {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut wrt: Option<Vec<Ident>> = None;
        let mut krate = None;
        let mut float = None::<Ident>;
        let (mut forward, mut hessian) = (None::<Ident>, None::<Ident>);
        let (mut trace, mut graph, mut checkpoint) = (false, false, false);
        let (mut ordered_sums, mut lanes_always) = (false, false);
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
                if !input.peek(Ident) && !input.peek(Token![self]) {
                    return Err(syn::Error::new(
                        kw.span,
                        "expected the names of parameters after `wrt =`: write `wrt = a, b, ...`",
                    ));
                }
                let mut names = vec![wrt_name(input)?];
                // `wrt = a, b, crate = x`: a name continues the list unless an option follows.
                while input.peek(Token![,])
                    && (input.peek2(Ident) || input.peek2(Token![self]))
                    && !input.peek3(Token![=])
                    && !input.peek2(kw::hessian)
                    && !input.peek2(kw::trace)
                    && !input.peek2(kw::graph)
                    && !input.peek2(kw::checkpoint)
                    && !input.peek2(kw::ordered_sums)
                    && !input.peek2(kw::__lanes_always)
                    && !input.peek2(kw::float)
                {
                    input.parse::<Token![,]>()?;
                    names.push(wrt_name(input)?);
                }
                wrt = Some(names);
            } else if input.peek(Token![crate]) {
                let kw: Token![crate] = input.parse()?;
                if krate.is_some() {
                    return Err(syn::Error::new(kw.span, "`crate` is given twice"));
                }
                input.parse::<Token![=]>()?;
                krate = Some(Path::parse_mod_style(input)?);
            } else if input.peek(kw::float) {
                let kw: kw::float = input.parse()?;
                if float.is_some() {
                    return Err(syn::Error::new(kw.span, "`float` is given twice"));
                }
                if input.parse::<Token![=]>().is_err() || !input.peek(Ident) {
                    return Err(syn::Error::new(
                        kw.span,
                        "expected `float = T`: the type parameter of the enclosing `impl` that is the float type",
                    ));
                }
                float = Some(input.parse()?);
            } else if input.peek(kw::trace)
                || input.peek(kw::graph)
                || input.peek(kw::checkpoint)
                || input.peek(kw::ordered_sums)
                || input.peek(kw::__lanes_always)
            {
                let id: Ident = input.parse()?;
                let flag = if id == "trace" {
                    &mut trace
                } else if id == "graph" {
                    &mut graph
                } else if id == "checkpoint" {
                    &mut checkpoint
                } else if id == "ordered_sums" {
                    &mut ordered_sums
                } else {
                    &mut lanes_always
                };
                if *flag {
                    return Err(syn::Error::new(id.span(), format!("`{id}` is given twice")));
                }
                *flag = true;
            } else if input.peek(kw::mode) || input.peek(kw::hessian) {
                let id: Ident = input.parse()?;
                if id == "hessian" {
                    if hessian.is_some() {
                        return Err(syn::Error::new(id.span(), "`hessian` is given twice"));
                    }
                    hessian = Some(id);
                } else {
                    if forward.is_some() {
                        return Err(syn::Error::new(id.span(), "`mode` is given twice"));
                    }
                    if input.parse::<Token![=]>().is_err() {
                        return Err(syn::Error::new(
                            id.span(),
                            "expected `mode = forward` or `mode = reverse`",
                        ));
                    }
                    let m: Ident = input.parse().map_err(|e| {
                        syn::Error::new(e.span(), "expected `mode = forward` or `mode = reverse`")
                    })?;
                    if m != "forward" && m != "reverse" {
                        return Err(syn::Error::new(
                            m.span(),
                            format!("unknown mode `{m}`: expected `forward` or `reverse`"),
                        ));
                    }
                    forward = Some(m);
                }
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
        // `#[grad(hessian)]` on a building block: its pullback's tangent, for callers'
        // second derivatives.
        if let (None, Some(opt)) = (&wrt, forward.as_ref()) {
            return Err(syn::Error::new(
                opt.span(),
                format!(
                    "`{opt}` needs `wrt = ...`: the parameters to differentiate with respect to"
                ),
            ));
        }
        Ok(Args {
            wrt,
            krate,
            reverse: forward.as_ref().is_some_and(|m| m == "reverse"),
            trace,
            graph,
            checkpoint,
            ordered_sums,
            lanes_always,
            forward: forward.is_some_and(|m| m == "forward"),
            hessian: hessian.is_some(),
            float,
        })
    }
}

/// A name in `wrt`: a parameter, or `self`; a field path (`p.w`) is refused with what to write.
fn wrt_name(input: ParseStream) -> syn::Result<Ident> {
    let name = if input.peek(Token![self]) {
        input.call(syn::ext::IdentExt::parse_any)?
    } else {
        input.parse::<Ident>()?
    };
    if input.peek(Token![.]) {
        let dot: Token![.] = input.parse()?;
        return Err(syn::Error::new(
            dot.span,
            format!("`wrt` lists whole parameters: write `wrt = {name}` to differentiate with respect to every field of `{name}` the body reads (the gradient is then a value of its type)"),
        ));
    }
    Ok(name)
}
