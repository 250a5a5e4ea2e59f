package election

import (
	"encoding/json"
	"strings"
)

// Value is what a candidate's key holds: JSON, not the bare name, because
// the election keys live under the records' prefix by default
// (/skydns/monitor/lock/<lease>, /skydns/monitor/kubeapi-lock/...), where
// readers of the SkyDNS message format (ExternalDNS's CoreDNS provider,
// CoreDNS's etcd plugin) parse every value as a record and give up on one
// that is not JSON. An object with neither host nor text is a record of
// nothing to them.
type Value struct {
	Holder string `json:"holder"` // the candidate's host name (Config.Value)
}

// EncodeValue is the key's value for the candidate holder.
func EncodeValue(holder string) string {
	b, _ := json.Marshal(Value{Holder: holder}) // a string field: cannot fail
	return string(b)
}

// Holder reads a key's value: the JSON of Value, or the plain host name
// that SkyDNS wrote before, which a candidate of the old version still
// holds during an upgrade.
func Holder(b []byte) string {
	if len(b) > 0 && b[0] == '{' {
		var v Value
		if json.Unmarshal(b, &v) == nil {
			return v.Holder
		}
	}
	return strings.TrimSpace(string(b))
}
