import { EventEmitter } from 'node:events'

export interface ClusterEvent {
  atMs: number
  kind: string
  /** The node the event is about, when there is one. */
  id?: string
  name?: string
  message: string
}

/** A bounded timeline of what happened, newest last; subscribers get each new event. */
export class EventLog extends EventEmitter {
  private readonly items: ClusterEvent[] = []

  constructor(private readonly eventsMax = 500) {
    super()
    this.setMaxListeners(0)
  }

  add(event: ClusterEvent): void {
    this.items.push(event)
    if (this.items.length > this.eventsMax) this.items.splice(0, this.items.length - this.eventsMax)
    this.emit('event', event)
  }

  recent(limit = 100): ClusterEvent[] {
    return this.items.slice(-limit)
  }
}
