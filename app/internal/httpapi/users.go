package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/shipyard-kit/shipyard/app/internal/auth"
	"github.com/shipyard-kit/shipyard/app/internal/cache"
	"github.com/shipyard-kit/shipyard/app/internal/store"
)

type userResponse struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

func toUser(u store.User) userResponse {
	return userResponse{ID: u.ID, Email: u.Email, Name: u.Name, CreatedAt: u.CreatedAt.UTC()}
}

// hashWait is how long a register or login waits for a free hashing slot
// before it is answered 503 overloaded.
const hashWait = time.Second

// hashSlot takes a password hashing slot, or answers 503 with Retry-After.
func hashSlot(w http.ResponseWriter, r *http.Request, l *auth.Limiter) (func(), bool) {
	release, ok := l.Acquire(r.Context(), hashWait)
	if !ok && errors.Is(r.Context().Err(), context.Canceled) {
		// The client went away while waiting: not an overload to count
		// as a 5xx (it would feed the rollback alarm), but a 499.
		w.WriteHeader(statusClientClosed)
		return nil, false
	}
	if !ok {
		w.Header().Set("Retry-After", "1")
		writeProblem(w, r, http.StatusServiceUnavailable, "overloaded", "too many logins at once; retry shortly")
		return nil, false
	}
	return release, true
}

func handleRegister(log *slog.Logger, st *store.Store, hashes *auth.Limiter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req registerRequest
		if perr := decodeValid(r, &req); perr != nil {
			perr.write(w, r)
			return
		}
		release, ok := hashSlot(w, r, hashes)
		if !ok {
			return
		}
		hash, err := auth.HashPassword(req.Password)
		release()
		if err != nil {
			serverError(log, w, r, err)
			return
		}
		u, err := st.CreateUser(r.Context(), req.Email, req.Name, hash)
		if errors.Is(err, store.ErrEmailTaken) {
			writeProblem(w, r, http.StatusConflict, "email_taken", "a user with this email exists")
			return
		}
		if err != nil {
			serverError(log, w, r, err)
			return
		}
		w.Header().Set("Location", "/api/v1/me")
		writeJSON(w, http.StatusCreated, toUser(u))
	})
}

type tokenResponse struct {
	Token     string    `json:"token"`
	TokenType string    `json:"token_type"`
	ExpiresAt time.Time `json:"expires_at"`
}

func handleLogin(log *slog.Logger, st *store.Store, hashes *auth.Limiter, ttl time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req loginRequest
		if perr := decodeValid(r, &req); perr != nil {
			perr.write(w, r)
			return
		}
		u, err := st.UserByEmail(r.Context(), req.Email)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			serverError(log, w, r, err)
			return
		}
		release, ok := hashSlot(w, r, hashes)
		if !ok {
			return
		}
		if errors.Is(err, store.ErrNotFound) {
			auth.CheckDummy(req.Password)
			release()
			writeProblem(w, r, http.StatusUnauthorized, "invalid_credentials", "wrong email or password")
			return
		}
		match, err := auth.CheckPassword(u.PasswordHash, req.Password)
		release()
		if err != nil {
			serverError(log, w, r, err)
			return
		}
		if !match {
			writeProblem(w, r, http.StatusUnauthorized, "invalid_credentials", "wrong email or password")
			return
		}
		token, hash, err := auth.NewToken()
		if err != nil {
			serverError(log, w, r, err)
			return
		}
		expires := time.Now().Add(ttl).UTC().Truncate(time.Second)
		if err := st.CreateToken(r.Context(), hash, u.ID, expires); err != nil {
			serverError(log, w, r, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusCreated, tokenResponse{Token: token, TokenType: "Bearer", ExpiresAt: expires})
	})
}

func handleMe() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, toUser(userFrom(r.Context())))
	})
}

func handleLogout(log *slog.Logger, st *store.Store, tokens *cache.Tokens) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hash := tokenHashFrom(r.Context())
		ctx, cancel := committing(r)
		defer cancel()
		if err := st.RevokeToken(ctx, hash); err != nil {
			serverError(log, w, r, err)
			return
		}
		// Revoked in Postgres; until the cache knows too the token could
		// still work, so a failure here is a 503 (retrying is safe).
		if err := tokens.Forget(ctx, hash); err != nil {
			log.WarnContext(r.Context(), "logout: token cache unavailable", "err", err)
			w.Header().Set("Retry-After", "1")
			writeProblem(w, r, http.StatusServiceUnavailable, "unavailable", "the token is revoked but the cache could not be updated; retry the logout")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
