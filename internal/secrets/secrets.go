// Package secrets recognises values that look like credentials, so that none is
// written into a generated file, a log line or a message.
package secrets

import (
	"net/url"
	"regexp"
	"strings"
)

var (
	// Names of variables or keys whose values are secrets.
	secretName = regexp.MustCompile(`(?i)(pass(word|wd)?|secret|token|api_?key|private_?key|credential|auth)`)
	// Values that are credentials whatever they are called.
	// JWTs (service-account tokens) and HTTP authorization headers (git's
	// extraheader in a CI checkout's .git/config) included.
	secretValue = regexp.MustCompile(`(AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY|xox[abpr]-[0-9A-Za-z-]{10,}|gh[pousr]_[0-9A-Za-z]{30,}|sk_live_[0-9A-Za-z]{10,}|://[^/\s:@]+:[^/\s@]+@|eyJ[0-9A-Za-z_-]{8,}\.eyJ[0-9A-Za-z_-]{8,}|(?i:authorization:\s*(?:basic|bearer)\s+[A-Za-z0-9._~+/=-]{8,}))`)
	// In free text: credential values, "Bearer x", and name=value / name: value pairs.
	redactPatterns = []*regexp.Regexp{
		regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)`),
		regexp.MustCompile(`AKIA[0-9A-Z]{16}|xox[abpr]-[0-9A-Za-z-]{10,}|gh[pousr]_[0-9A-Za-z]{30,}|sk_live_[0-9A-Za-z]{10,}|eyJ[0-9A-Za-z_-]{8,}\.eyJ[0-9A-Za-z_-]{8,}\.[0-9A-Za-z_-]*`),
		regexp.MustCompile(`(?i)(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}`),
		regexp.MustCompile(`(://[^/\s:@]+:)[^/\s@]+(@)`),
		regexp.MustCompile(`(?i)((?:pass(?:word|wd)?|secret|token|api[_-]?key|private[_-]?key|credential)[a-z_-]*["']?\s*[:=]\s*["']?)[^\s"',;&]+`),
	}
)

// assignment is a secret-named key given a literal in free text: password=x,
// --api-key x (not matched), "token": "x", secret: x.
var assignment = regexp.MustCompile(`(?i)((?:pass(?:word|wd)?|secret|token|api[_-]?key|private[_-]?key|credential)[a-z0-9_.-]*)["']?\s*[:=]\s*["']?([^\s"',;&]*)`)

// referenceSuffix marks keys that name where a secret is, not the secret itself
// (token-file=/run/x, secretName: db, password_env=DB_PASS).
var referenceSuffix = regexp.MustCompile(`(?i)(file|path|dir|name|ref|env|key_id|length|ttl|url|uri)$`)

// IsSecretName tells whether a variable or key is named like a secret.
func IsSecretName(name string) bool { return secretName.MatchString(name) }

// InText tells whether free text (a command argument, a config file, an
// annotation) holds a credential: a credential-shaped value, a URL with a
// password, or a literal of at least 8 characters assigned to a secret-named key.
// References (paths, $(VAR), ${VAR}, numbers) are not credentials.
func InText(text string) bool {
	if text == "" {
		return false
	}
	if containsAny(text, valueMarkers) && secretValue.MatchString(text) {
		return true
	}
	if !mayAssign(text) {
		return false
	}
	for _, m := range assignment.FindAllStringSubmatch(text, -1) {
		name, value := m[1], m[2]
		if referenceSuffix.MatchString(name) || len(value) < 8 || strings.IndexFunc(value, notDigit) < 0 {
			continue
		}
		if strings.ContainsAny(value[:1], "$/{<%*") {
			continue
		}
		return true
	}
	return false
}

// The regular expressions above cost ~10 µs on a long text (an alert message
// template, a config file) even when they cannot match; these literals, which
// every match contains, rule most texts out first.
var (
	valueMarkers  = []string{"AKIA", "-----BEGIN ", "xox", "gh", "sk_live_", "://", "eyJ", "uthorization", "UTHORIZATION"}
	assignMarkers = []string{"pass", "secret", "token", "api", "private", "credential"}
)

// mayAssign tells whether text may hold a secret-named assignment. Non-ASCII
// text goes to the regular expression: (?i) folds letters such as U+017F
// (long s) that strings.ToLower keeps.
func mayAssign(text string) bool {
	for i := 0; i < len(text); i++ {
		if text[i] >= 0x80 {
			return true
		}
	}
	return containsAny(strings.ToLower(text), assignMarkers)
}

func containsAny(text string, literals []string) bool {
	for _, l := range literals {
		if strings.Contains(text, l) {
			return true
		}
	}
	return false
}

func notDigit(r rune) bool { return r < '0' || r > '9' }

// Redacted replaces what is hidden.
const Redacted = "[REDACTED]"

// LooksLikeCredential tells whether a named literal value is probably a secret:
// a credential-shaped value, or a single-word value of at least 8 characters for
// a variable named like a secret.
func LooksLikeCredential(name, value string) bool {
	if value == "" {
		return false
	}
	return secretValue.MatchString(value) || (secretName.MatchString(name) && len(value) >= 8 && !strings.Contains(value, " "))
}

// Redact hides everything in free text (log lines, error bodies) that looks like
// a credential, keeping the surrounding words so the text stays readable.
func Redact(text string) string {
	for i, re := range redactPatterns {
		switch i {
		case 3:
			text = re.ReplaceAllString(text, "${1}"+Redacted+"${2}")
		case 4:
			text = re.ReplaceAllString(text, "${1}"+Redacted)
		case 2:
			text = re.ReplaceAllStringFunc(text, func(m string) string {
				return strings.Fields(m)[0] + " " + Redacted
			})
		default:
			text = re.ReplaceAllString(text, Redacted)
		}
	}
	return text
}

// RedactURL is a URL fit for a message or a page: its user information (user
// and password) and its query's values (tokens live there) are hidden.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(a URL that does not parse)"
	}
	if u.User != nil {
		u.User = url.User("***")
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			q[k] = []string{"***"}
		}
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// userinfo is the user information of a URL in free text.
var userinfo = regexp.MustCompile(`(://)[^/\s@]+@`)

// RedactURLsIn hides the user information of every URL in free text (an
// error that quotes the URL it failed on), then what Redact hides.
func RedactURLsIn(text string) string {
	return Redact(userinfo.ReplaceAllString(text, "${1}***@"))
}

// webhookPaths are URLs that are credentials themselves: whoever has one may
// post as the integration.
var webhookPaths = []string{"hooks.slack.com/services/", "hooks.slack.com/workflows/", "discord.com/api/webhooks/", "discordapp.com/api/webhooks/", ".webhook.office.com/", "/webhookb2/"}

// InURL tells whether a URL carries a credential: user information, a query
// parameter named like a secret (access_token, sig, key) or whose value looks
// like one, or a webhook URL.
func InURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return InText(raw)
	}
	if u.User != nil {
		return true
	}
	lower := strings.ToLower(u.Host + u.Path)
	for _, w := range webhookPaths {
		if strings.Contains(lower, w) {
			return true
		}
	}
	for k, vs := range u.Query() {
		name := strings.ToLower(k)
		if IsSecretName(name) || name == "sig" || name == "signature" || name == "key" || name == "code" {
			return true
		}
		for _, v := range vs {
			if LooksLikeCredential(k, v) {
				return true
			}
		}
	}
	return InText(raw)
}
