// The cluster's members as the release service sees them (index.ts makes them from the
// mesh table): who to dial on the release transport, and which voters reach etcd.

export interface MemberInfo {
  id: string
  name: string
  key: string
  address: string
  alive: boolean
  voter: boolean
}
