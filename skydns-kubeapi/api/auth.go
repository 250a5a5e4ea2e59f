package api

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// Role is what a token may do. Each role may do what the ones below it
// may: read < operate < write < admin.
type Role int

// Roles, lowest first.
const (
	RoleNone    Role = iota
	RoleRead         // GET: records, policies, overrides, events
	RoleOperate      // drain and undrain: PUT and DELETE of overrides
	RoleWrite        // records and policies: POST, PUT, DELETE
	RoleAdmin        // everything; skydns-auth is an admin token
)

var roleNames = map[Role]string{RoleRead: "read", RoleOperate: "operate", RoleWrite: "write", RoleAdmin: "admin"}

func (r Role) String() string {
	if n, ok := roleNames[r]; ok {
		return n
	}
	return "none"
}

// ParseRole reads a role's name.
func ParseRole(s string) (Role, bool) {
	for r, n := range roleNames {
		if n == s {
			return r, true
		}
	}
	return RoleNone, false
}

// namedToken is one line of api-tokens-file.
type namedToken struct {
	name string
	role Role
	sum  [sha256.Size]byte
}

// ParseTokens reads api-tokens-file: one token per line,
//
//	<name> <role> <sha256 of the secret, 64 hex digits>
//
// with # comments and blank lines. Names are what the events say a
// request did (its user): letters, digits and . _ @ -, at most 64, each
// once. A secret appears once: two lines with one hash would make the
// name a guess.
func ParseTokens(text string) ([]namedToken, error) {
	var out []namedToken
	names, sums := map[string]int{}, map[[sha256.Size]byte]int{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("line %d: want <name> <role> <sha256-hex>, got %d fields", n, len(f))
		}
		if f[0] == "" || checkUser(f[0]) != nil {
			return nil, fmt.Errorf("line %d: name %q: at most 64 letters, digits and . _ @ -", n, f[0])
		}
		if prev, dup := names[f[0]]; dup {
			return nil, fmt.Errorf("line %d: name %q already on line %d", n, f[0], prev)
		}
		role, ok := ParseRole(f[1])
		if !ok {
			return nil, fmt.Errorf("line %d: role %q: want read, operate, write or admin", n, f[1])
		}
		b, err := hex.DecodeString(f[2])
		if err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("line %d: %q is not a SHA-256 in hex (64 digits; skydns-apicmd -hash-token makes one)", n, f[2])
		}
		t := namedToken{name: f[0], role: role}
		copy(t.sum[:], b)
		if prev, dup := sums[t.sum]; dup {
			return nil, fmt.Errorf("line %d: the same secret as line %d", n, prev)
		}
		names[t.name], sums[t.sum] = n, n
		out = append(out, t)
	}
	return out, sc.Err()
}

// ReloadTokens reads api-tokens-file again; on an error the tokens in use
// stay as they are. It is what SIGHUP does.
func (a *API) ReloadTokens() error {
	if a.cfg.TokensFile == "" {
		return nil
	}
	b, err := os.ReadFile(a.cfg.TokensFile)
	if err != nil {
		a.log.Error("api-tokens-file not read; the tokens in use are kept", "file", a.cfg.TokensFile, "err", err)
		return fmt.Errorf("api-tokens-file: %w", err)
	}
	toks, err := ParseTokens(string(b))
	if err != nil {
		a.log.Error("api-tokens-file not loaded; the tokens in use are kept", "file", a.cfg.TokensFile, "err", err)
		return fmt.Errorf("api-tokens-file %s: %w", a.cfg.TokensFile, err)
	}
	a.tokens.Store(&toks)
	a.log.Info("api-tokens-file loaded", "file", a.cfg.TokensFile, "tokens", len(toks))
	return nil
}

// identity is who made a request: the name of the named token it used, or
// "" for skydns-auth and for reads without a token.
type identity struct {
	name string
	role Role
}

// secured reports whether any token is configured.
func (a *API) secured() bool { return a.cfg.Token != "" || a.cfg.TokensFile != "" }

// authorize checks the token of a request against the role it needs. A
// token is compared by its SHA-256 sum in constant time, against every
// token, so that neither its content, its length nor which token it is
// leaks through timing. reason is the metric's label of a refusal.
func (a *API) authorize(r *http.Request, need Role) (identity, string, *httpError) {
	if !a.secured() {
		if need > RoleRead {
			return identity{}, "disabled", errorf(http.StatusForbidden, "writes are disabled: no token is configured (skydns-auth or api-tokens-file in [SkydnsApi])")
		}
		return identity{}, "", nil
	}
	if need <= RoleRead && a.cfg.OpenReads {
		return identity{}, "", nil
	}
	tok := ""
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return identity{}, "malformed", errorf(http.StatusUnauthorized, "Authorization header must be \"Bearer <token>\"")
		}
		tok = strings.TrimSpace(rest)
	} else {
		// Old clients put the token in the URL; it is accepted, never logged.
		tok = r.URL.Query().Get("token")
	}
	if tok == "" {
		return identity{}, "missing", errorf(http.StatusUnauthorized, "missing token: send \"Authorization: Bearer <token>\" (or ?token= for old clients)")
	}
	sum := sha256.Sum256([]byte(tok))
	id, found := identity{}, 0
	if a.cfg.Token != "" {
		if subtle.ConstantTimeCompare(sum[:], a.tokenSum[:]) == 1 {
			id, found = identity{role: RoleAdmin}, 1
		}
	}
	if p := a.tokens.Load(); p != nil {
		for _, t := range *p {
			eq := subtle.ConstantTimeCompare(sum[:], t.sum[:])
			if eq == 1 && found == 0 {
				id, found = identity{name: t.name, role: t.role}, 1
			}
		}
	}
	if found == 0 {
		return identity{}, "unknown", errorf(http.StatusUnauthorized, "wrong token: neither skydns-auth nor a token of api-tokens-file")
	}
	if id.role < need {
		who := "token " + id.name
		return id, "role", errorf(http.StatusForbidden, "%s has role %s; %s %s needs role %s or higher",
			who, id.role, r.Method, r.URL.Path, need)
	}
	return id, "", nil
}

// actor is who made a write, for its event: the identity, the user the
// request gave (the token's name with a named token), and its address.
type actor struct {
	token  string
	user   string
	remote string
	method string
	path   string
}

type actorKey struct{}

func actorOf(ctx context.Context) *actor {
	a, _ := ctx.Value(actorKey{}).(*actor)
	return a
}

// userOf is the user of a write: the named token's name when the request
// used one (a request cannot speak for another), else the user it gave.
func userOf(r *http.Request, given string) string {
	if act := actorOf(r.Context()); act != nil {
		if act.token != "" {
			given = act.token
		}
		act.user = given
	}
	return given
}

// noteUser records the user of a write that stores no user (a delete):
// given (a body's user), else ?user=, for its event.
func noteUser(r *http.Request, given string) *httpError {
	if given == "" {
		given = r.URL.Query().Get("user")
	}
	if err := checkUser(given); err != nil {
		return err
	}
	userOf(r, given)
	return nil
}
