// Role assignments on one Azure Health Data Services FHIR service, which may live in another resource group than the
// function app (a MedTech migration reuses the existing FHIR service). Deploy this module at the FHIR service's
// resource group.

metadata name = 'FHIR service role assignments'
metadata description = 'Assigns built-in FHIR data-plane roles on an existing Azure Health Data Services FHIR service.'

@description('Required. Resource ID of the FHIR service: /subscriptions/…/resourceGroups/…/providers/Microsoft.HealthcareApis/workspaces/<workspace>/fhirservices/<fhir>.')
param fhirServiceResourceId string

@description('Required. The assignments: principal, its type, and the role definition GUID.')
param roleAssignments {
  @description('Object (principal) ID of the identity.')
  principalId: string
  @description('ServicePrincipal for managed identities, User or Group for people.')
  principalType: ('ServicePrincipal' | 'User' | 'Group')
  @description('GUID of the built-in role definition.')
  roleDefinitionId: string
}[]

var segments = split(fhirServiceResourceId, '/')

resource fhirService 'Microsoft.HealthcareApis/workspaces/fhirservices@2024-03-31' existing = {
  name: '${segments[8]}/${segments[10]}'
}

resource assignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for assignment in roleAssignments: {
    name: guid(fhirService.id, assignment.principalId, assignment.roleDefinitionId)
    scope: fhirService
    properties: {
      principalId: assignment.principalId
      principalType: assignment.principalType
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', assignment.roleDefinitionId)
    }
  }
]

@description('The resource IDs of the role assignments.')
output roleAssignmentResourceIds string[] = [for (assignment, i) in roleAssignments: assignments[i].id]
