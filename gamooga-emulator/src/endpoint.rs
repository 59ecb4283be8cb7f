//! The paths the emulator serves and what each backend endpoint expects.

/// A backend endpoint of Gamooga's server-to-server API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `GET /evwid/`: event by user id, typed property sets `ky`/`vl`/`tp`.
    Evwid,
    /// `POST /evwidj/`: event by user id, properties as a flat JSON body.
    Evwidj,
    /// `GET /ev/`: event by visitor id, typed property sets `ky`/`vl`/`tp`.
    Ev,
    /// `GET /evvprwid/`: event and visitor properties by user id.
    Evvprwid,
    /// `GET /vpr/`: visitor properties by visitor id, sets `p`/`vl`/`tp`.
    Vpr,
    /// `GET /id/`: fetch or map a user id's visitor id.
    Id,
}

impl Endpoint {
    /// The endpoint's name as recorded and counted.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Endpoint::Evwid => "evwid",
            Endpoint::Evwidj => "evwidj",
            Endpoint::Ev => "ev",
            Endpoint::Evvprwid => "evvprwid",
            Endpoint::Vpr => "vpr",
            Endpoint::Id => "id",
        }
    }

    /// The one HTTP method the endpoint accepts.
    pub(crate) fn method(self) -> &'static str {
        match self {
            Endpoint::Evwidj => "POST",
            _ => "GET",
        }
    }

    const ALL: [Endpoint; 6] = [
        Endpoint::Evwid,
        Endpoint::Evwidj,
        Endpoint::Ev,
        Endpoint::Evvprwid,
        Endpoint::Vpr,
        Endpoint::Id,
    ];
}

/// Where a request path leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// `/newnaconf/{company}/` with the (still percent-encoded) company segment.
    Newnaconf(String),
    /// A backend endpoint, e.g. `/evwid/`.
    Backend(Endpoint),
    /// The inspection API under `/_emulator/`, with the rest of the path.
    Inspect(String),
    /// Anything else; the text says what is wrong.
    Unknown(String),
}

impl Route {
    /// Routes a request path. Paths are exact: the trailing slash is required.
    pub(crate) fn of(path: &str) -> Route {
        if let Some(rest) = path.strip_prefix("/_emulator/") {
            return Route::Inspect(rest.to_owned());
        }
        if let Some(rest) = path.strip_prefix("/newnaconf/") {
            return match rest.strip_suffix('/') {
                Some(company) if !company.is_empty() && !company.contains('/') => {
                    Route::Newnaconf(company.to_owned())
                }
                _ => Route::Unknown(format!(
                    "unknown path {path}: expected /newnaconf/{{company}}/"
                )),
            };
        }
        for ep in Endpoint::ALL {
            let name = ep.name();
            if let Some(rest) = path.strip_prefix('/').and_then(|p| p.strip_prefix(name)) {
                if rest == "/" {
                    return Route::Backend(ep);
                }
                if rest.is_empty() {
                    return Route::Unknown(format!(
                        "unknown path {path}: did you mean /{name}/ (with the trailing slash)?"
                    ));
                }
            }
        }
        Route::Unknown(format!("unknown path {path}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_exact_paths() {
        assert_eq!(Route::of("/evwid/"), Route::Backend(Endpoint::Evwid));
        assert_eq!(Route::of("/evwidj/"), Route::Backend(Endpoint::Evwidj));
        assert_eq!(Route::of("/ev/"), Route::Backend(Endpoint::Ev));
        assert_eq!(Route::of("/id/"), Route::Backend(Endpoint::Id));
        assert_eq!(
            Route::of("/newnaconf/acme/"),
            Route::Newnaconf("acme".into())
        );
        assert!(matches!(Route::of("/evwid"), Route::Unknown(m) if m.contains("trailing slash")));
        assert!(matches!(Route::of("/newnaconf//"), Route::Unknown(_)));
        assert!(matches!(Route::of("/newnaconf/a/b/"), Route::Unknown(_)));
        assert!(matches!(Route::of("/evwidx/"), Route::Unknown(_)));
        assert_eq!(
            Route::of("/_emulator/calls"),
            Route::Inspect("calls".into())
        );
    }
}
